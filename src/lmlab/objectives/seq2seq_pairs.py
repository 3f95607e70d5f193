"""What the encoder–decoder objectives (MASS, BART, T5) share: turning each text block
into a (source, target) pair, packing the pairs into padded tensors, the decoder's loss,
and the held-out measure, denoising perplexity.

A batch arrives as ``[CLS] text [SEP]`` blocks (``data.batching: blocks``). The objective
draws, per example, a (source, target[, target positions]) pair from the block's text with
a generator seeded by (seed, step, example id) — the step is left out for held-out blocks,
so their noise is fixed — and :func:`pack_pairs` lays them out as the decoder sees them:

* ``{name}_source_ids`` / ``{name}_source_mask`` (B, S): encoder input, 1 = real token;
* ``{name}_decoder_ids`` (B, T): ``[start] + target[:-1]`` (teacher forcing);
* ``{name}_decoder_positions`` (B, T): position ids of the targets (MASS: their places
  in the source; else 0..T-1);
* ``{name}_labels`` (B, T): the target, IGNORE at padding.

The keys carry the objective's name, so two of them can share a batch; ``input_ids``
stays the uncorrupted blocks (the loop counts tokens by it). Corruption runs on the CPU
before the batch moves (DESIGN §4); :meth:`DenoisingPairs.evaluate` only runs the model.

Held out: denoising perplexity, exp of the decoder's mean cross-entropy per target token
under the fixed held-out noise; like masked perplexity it is comparable only between runs
of the same objective settings.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.objectives.base import (EvaluationSettings, LossOutput, StatelessObjective,
                                   held_out_blocks, perplexity_summary, row_generator)

Pair = tuple  # (source (S,), target (T,), target positions (T,) or None)
MakePair = Callable[[torch.Tensor, torch.Generator], Pair]


def check_seq2seq_run(run_config, path: str, name: str) -> None:
    """The run must have a decoder, a bidirectional encoder and block batches."""
    model = run_config.model
    if model.decoder is None:
        raise ConfigError(f"{path}: {name} needs an encoder–decoder model; set model.decoder "
                          f"(e.g. {{name: transformer}})")
    if getattr(model.encoder, "mask", None) != "bidirectional":
        raise ConfigError(f"{path}: {name} needs a bidirectional encoder; set "
                          f"model.encoder.mask: bidirectional")
    if run_config.data.batching != "blocks":
        raise ConfigError(f"{path}: {name} needs data.batching: blocks")
    if run_config.data.seq_len < 4:  # [CLS] + at least two text tokens + [SEP]
        raise ConfigError(f"data.seq_len: {name} needs blocks of at least 4 tokens, got "
                          f"{run_config.data.seq_len}")


def pack_pairs(pairs: list[Pair], pad_id: int, decoder_start_id: int, prefix: str) -> dict:
    """Right-padded tensors of the pairs (see the module docstring for the keys)."""
    batch = len(pairs)
    source_width = max(source.numel() for source, _, _ in pairs)
    target_width = max(target.numel() for _, target, _ in pairs)
    source_ids = torch.full((batch, source_width), pad_id, dtype=torch.long)  # (B, S)
    source_mask = torch.zeros(batch, source_width, dtype=torch.long)
    decoder_ids = torch.full((batch, target_width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((batch, target_width), IGNORE, dtype=torch.long)
    positions = torch.arange(target_width).repeat(batch, 1)  # (B, T)
    for row, (source, target, target_positions) in enumerate(pairs):
        source_ids[row, :source.numel()] = source
        source_mask[row, :source.numel()] = 1
        length = target.numel()
        decoder_ids[row, 0] = decoder_start_id
        decoder_ids[row, 1:length] = target[:-1]
        labels[row, :length] = target
        if target_positions is not None:
            positions[row, :length] = target_positions
    return {f"{prefix}_source_ids": source_ids, f"{prefix}_source_mask": source_mask,
            f"{prefix}_decoder_ids": decoder_ids, f"{prefix}_decoder_positions": positions,
            f"{prefix}_labels": labels}


class DenoisingPairs:
    """The shared machinery, held by each seq2seq objective (composition, not a base
    class): ``make_pair(text (n,), generator) -> (source, target, positions | None)``."""

    def __init__(self, prefix: str, make_pair: MakePair, seed: int, tokenizer,
                 decoder_start_id: int):
        self.prefix, self.make_pair, self.seed = prefix, make_pair, seed
        self.tokenizer, self.decoder_start_id = tokenizer, decoder_start_id

    def corrupt(self, batch: dict, static: bool = False) -> dict:
        ids = batch["input_ids"]  # (B, L): [CLS] text [SEP] blocks
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        step = -1 if static else batch.get("step", 0)
        pairs = [self.make_pair(ids[row, 1:-1], row_generator(self.seed, step, int(example)))
                 for row, example in enumerate(example_ids)]
        return {**batch, **pack_pairs(pairs, self.tokenizer.pad_id, self.decoder_start_id,
                                      self.prefix)}

    def _hidden(self, model, batch: dict):
        key = self.prefix
        mask = batch[f"{key}_source_mask"]
        memory = model.encode(batch[f"{key}_source_ids"], mask)  # (B, S, D)
        hidden = model.decode(batch[f"{key}_decoder_ids"], memory, mask,
                              positions=batch[f"{key}_decoder_positions"])  # (B, T, D)
        labels = batch[f"{key}_labels"]
        chosen = labels != IGNORE  # (B, T)
        return hidden[chosen], labels[chosen]  # (N, D), (N,)

    def loss(self, model, batch: dict) -> LossOutput:
        hidden, targets = self._hidden(model, batch)
        loss = model.lm_head.loss(hidden, targets)
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(targets.numel())})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        """Held-out ``[CLS] block [SEP]`` batches with their fixed noise, made on the CPU."""
        for batch in held_out_blocks(ids, settings, self.tokenizer):
            yield self.corrupt(batch, static=True)

    def evaluate(self, model, batch: dict) -> dict:
        hidden, targets = self._hidden(model, batch)
        nll = F.cross_entropy(model.lm_head(hidden).float(), targets, reduction="sum")
        return {"nll": nll.item(), "tokens": int(targets.numel())}

    @staticmethod
    def summarize(totals: dict) -> dict:
        return perplexity_summary(totals, "denoising")


class DenoisingObjective(StatelessObjective):
    """What MASS, BART and T5 share: their :class:`DenoisingPairs` (``self.pairs``, built by
    each from its own corruption) does the protocol's work; held out, denoising perplexity."""

    evaluation_kind = "denoising"
    pairs: DenoisingPairs

    @property
    def decoder_start_id(self) -> int:
        return self.pairs.decoder_start_id

    def corrupt(self, batch: dict) -> dict:
        return self.pairs.corrupt(batch)

    def loss(self, model, batch: dict) -> LossOutput:
        return self.pairs.loss(model, batch)

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        return self.pairs.evaluation_batches(model, ids, settings)

    def evaluate(self, model, batch: dict) -> dict:
        return self.pairs.evaluate(model, batch)

    def summarize(self, totals: dict) -> dict:
        return self.pairs.summarize(totals)
