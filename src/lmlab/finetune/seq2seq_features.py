"""Generation examples -> model inputs, for the three ways a pre-trained model generates.

* ``encoder_decoder`` (MASS, BART, T5): the encoder reads ``[CLS] source [SEP]``; the
  decoder is teacher-forced on ``[start] + target[:-1]`` and predicts ``target + [SEP]``
  (the stop token its generation ends at), as in pre-training (:mod:`lmlab.objectives.
  seq2seq_pairs`).
* ``prefix_lm`` (GPT): one causal sequence ``source [SEP] target <eos>``; the loss covers
  the target tokens only (the "decoder-only LM" row of BART's Table 1).
* ``unilm`` (Dong et al. 2019, §3.2 "NLG"): ``[CLS] source [SEP] target [SEP]`` with
  segments 0/1 under the sequence-to-sequence self-attention mask (the UniLM objective's
  :func:`~lmlab.objectives.unilm.unilm_mask`); a share of the target tokens is replaced by
  ``[MASK]`` and predicted, the final ``[SEP]`` included so the model learns to stop.

A feature: ``ids`` (the input ids), ``segments``, ``prompt`` (the part generation starts
from), and with a reference ``target`` (the tokens to predict) plus ``decoder_ids``
(encoder–decoder). Sources longer than ``max_len`` keep their first tokens, targets their
first ``max_target_len``; both are counted in one warning, never cut silently.
"""

from __future__ import annotations

import torch

from lmlab.data.batching import IGNORE
from lmlab.manifest import warn
from lmlab.objectives.unilm import unilm_mask

MODES = ("encoder_decoder", "prefix_lm", "unilm")


def _cut(rows: list[list[int]], limit: int, what: str, total: int) -> list[list[int]]:
    long = sum(len(row) > limit for row in rows)
    if long:
        warn(f"{long} of {total} {what}s were longer than {limit} tokens and were cut to "
             f"their first {limit}")
    return [row[:limit] for row in rows]


def encode_seq2seq(tokenizer, examples: list, mode: str, max_len: int, max_target_len: int,
                   decoder_start_id: int | None = None) -> list[dict]:
    """One feature per :class:`~lmlab.tasks.examples.Seq2SeqExample` (see the module
    docstring); ``max_len`` bounds the whole input of a decoder-only model."""
    stop = tokenizer.eos_id if mode == "prefix_lm" else tokenizer.sep_id
    target_budget = max_target_len - 1
    source_budget = max_len - 2 if mode == "encoder_decoder" else max_len - 2 - max_target_len
    sources = _cut(tokenizer.encode_batch([e.text for e in examples]), source_budget,
                   "source", len(examples))
    labelled = [e.target is not None for e in examples]
    targets = _cut(tokenizer.encode_batch([e.target or "" for e in examples]), target_budget,
                   "target", sum(labelled))
    features = []
    for source, target, has_target in zip(sources, targets, labelled):
        prompt = (source + [tokenizer.sep_id] if mode == "prefix_lm"
                  else [tokenizer.cls_id] + source + [tokenizer.sep_id])
        feature = {"prompt": prompt, "ids": prompt, "segments": [0] * len(prompt)}
        if has_target:
            target = target + [stop]
            feature["target"] = target
            if mode == "encoder_decoder":
                feature["decoder_ids"] = [decoder_start_id] + target[:-1]
            else:
                feature["ids"] = prompt + target
                feature["segments"] = [0] * len(prompt) + [1] * len(target)
        features.append(feature)
    return features


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows])  # (B, W)


def collate_seq2seq(features: list[dict], mode: str, tokenizer, target_mask_rate: float = 0.7,
                    generator: torch.Generator | None = None) -> dict:
    """A padded training batch; ``labels`` line up with the hidden states the model
    returns (decoder states, or the decoder-only sequence), IGNORE elsewhere. UniLM's
    target masking draws from ``generator`` (seeded per batch, so resume is exact)."""
    pad = tokenizer.pad_id
    batch = {"input_ids": _pad([f["ids"] for f in features], pad),
             "segments": _pad([f["segments"] for f in features], 0),
             "attention_mask": _pad([[1] * len(f["ids"]) for f in features], 0)}  # (B, L)
    if mode == "encoder_decoder":
        batch["decoder_ids"] = _pad([f["decoder_ids"] for f in features], pad)  # (B, T)
        batch["labels"] = _pad([f["target"] for f in features], IGNORE)
        return batch
    labels = torch.full_like(batch["input_ids"], IGNORE)  # (B, L)
    for row, feature in enumerate(features):
        start, end = len(feature["prompt"]), len(feature["ids"])
        if mode == "prefix_lm":  # position i predicts token i + 1
            labels[row, start - 1:end - 1] = torch.tensor(feature["target"])
        else:
            chosen = torch.rand(end - start, generator=generator) < target_mask_rate
            chosen[torch.randint(end - start, (1,), generator=generator)] = True  # >= 1
            places = torch.arange(start, end)[chosen]
            labels[row, places] = batch["input_ids"][row, places]
            batch["input_ids"][row, places] = tokenizer.mask_id
    batch["labels"] = labels
    if mode == "unilm":
        batch["attention_mask"] = seq2seq_masks(features, batch["input_ids"].shape[1])
    return batch


def seq2seq_masks(features: list[dict], width: int) -> torch.Tensor:
    """(B, L, L) UniLM sequence-to-sequence masks, padding keys hidden."""
    masks = []
    for feature in features:
        mask = unilm_mask("seq2seq", width, len(feature["prompt"]))
        mask[:, len(feature["ids"]):] = False
        mask[len(feature["ids"]):] = torch.eye(width, dtype=torch.bool)[len(feature["ids"]):]
        masks.append(mask)
    return torch.stack(masks)
