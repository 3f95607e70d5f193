"""context2vec (Melamud, Goldberger & Dagan 2016): a bidirectional LSTM context embedding
trained with word2vec's negative sampling against a separate table of target embeddings.

* The context of slot i (§3.1, Figure 1): the forward LSTM's state after reading the words
  left of i and the backward LSTM's state after reading the words right of i, i.e.
  ``lLS = forward state at i-1`` and ``rLS = backward state at i+1`` of the ``bilstm``
  encoder, concatenated and passed through a two-layer perceptron with a ReLU:
  ``c_i = L2(ReLU(L1([lLS ; rLS])))``. The word at i itself is never read. A slot at the
  edge of a row reads a zero state; training rows are ``[CLS] text [SEP]`` blocks and
  :func:`context_vectors` wraps sentences the same way, so every text slot's edge state
  is the learned state of ``[CLS]`` (start) or ``[SEP]`` (end), the paper's BOS/EOS.
* The loss (§3.1 eq. 1, the negative-sampling objective of Mikolov et al. 2013 eq. 4),
  per slot with target t and context c: ``-[log σ(t·c) + Σ_{k=1..K} log σ(-n_k·c)]``,
  averaged over the batch's slots. The K negatives n_k come from the train split's unigram
  distribution raised to α = 0.75 (Mikolov et al. 2013 §2.2; Melamud §3.1: K = 10,
  α = 0.75). As in the paper's Chainer code (``L.NegativeSampling``), a negative that
  happens to equal the target is kept. The special tokens other than ``<unk>`` are never
  targets and never negatives; ``<unk>`` is an ordinary word in training.
* Held-out measure, "fill the slot": the held-out split cut into sentences (at ``<eos>``
  line ends and after ``.``, ``?``, ``!``; longer than ``seq_len - 2`` cut into pieces),
  each wrapped ``[CLS] sentence [SEP]``; for every slot the nearest target embedding to
  its context vector by cosine similarity (the similarity the paper ranks targets by)
  over the whole vocabulary (every ordinary word; ``<unk>`` and the special tokens
  are never predicted), top-1 and top-10 accuracy, and the negative-sampling loss with
  fixed negatives. Slots whose target is ``<unk>`` are left out of every number. The
  trivial baseline beside it: always predicting the train split's most frequent words.

Randomness: the negatives of a row come from a uniform per (slot, k) drawn in
:meth:`Context2VecObjective.corrupt` by :func:`row_generator` (seed, step, example id),
mapped through the noise distribution's CDF in the loss, so resume is exact. The noise
distribution is a buffer of the objective's head, part of the checkpoint, so a loaded run
evaluates with the distribution it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmlab.encoders.bilstm import split_directions
from lmlab.errors import ConfigError, LmlabError
from lmlab.objectives.base import (IGNORE, ConfigDefaults, EvaluationSettings, LossOutput,
                                   StatelessObjective, row_generator, shared_forward)
from lmlab.objectives.softmax.proposal import unigram_counts

NAME = "context2vec"
SENTENCE_ENDS = (".", "?", "!")
"""Tokens after which a held-out sentence ends (WikiText-2's tokenisation)."""
NEGATIVES_STREAM = 19
"""The row generator's stream for the negatives (other objectives use others)."""
SCORE_CHUNK = 1024
"""Slots scored against the whole vocabulary at once (bounds the (N, V) score matrix)."""


@dataclass
class Context2VecConfig(ConfigDefaults):
    name: Literal["context2vec"] = NAME
    weight: float = 1.0
    num_negatives: int = 10
    """K, negative samples per slot (Melamud et al. 2016 §3.1: 10)."""
    noise_power: float = 0.75
    """α: negatives follow the train split's unigram distribution to this power (0.75)."""
    context_size: int = 0
    """Width of the context vectors and of the target embeddings; 0 = the model width
    (the paper: 600, the LSTM's width)."""
    mlp_hidden_size: int = 0
    """The MLP's hidden layer; 0 = twice the context size (the paper: 1200 for 600)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.num_negatives < 1:
            raise ConfigError(f"{path}.num_negatives: must be >= 1")
        if self.noise_power < 0:
            raise ConfigError(f"{path}.noise_power: must be >= 0")
        for name in ("context_size", "mlp_hidden_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}: must be >= 0 (0 = the default width)")

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder.name
        if encoder != "bilstm":
            raise ConfigError(f"{path}: context2vec reads separate forward and backward LSTM "
                              f"states; set model.encoder.name: bilstm, not {encoder}")
        if run_config.data.batching != "blocks":
            raise ConfigError(f"data.batching: context2vec trains on [CLS] … [SEP] blocks; "
                              f"set data.batching: blocks, not {run_config.data.batching}")

    def describe(self) -> str:
        return f"{self.name} (K={self.num_negatives}, α={self.noise_power})"


class Context2VecHead(nn.Module):
    """The MLP over [lLS ; rLS], the target embeddings and the noise distribution."""

    def __init__(self, state_size: int, context_size: int, mlp_hidden_size: int,
                 vocab_size: int, special_ids: dict[str, int]):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * state_size, mlp_hidden_size), nn.ReLU(),
                                 nn.Linear(mlp_hidden_size, context_size))
        self.targets = nn.Embedding(vocab_size, context_size)
        # (V,) unigram^α of the train split (zero for the non-target specials); filled by
        # the objective's prepare, saved with the weights.
        self.register_buffer("noise", torch.zeros(vocab_size))
        self.special_ids = special_ids  # pad, unk, cls, sep, num_special: plain ints

    def is_target(self, ids: torch.Tensor) -> torch.Tensor:
        """Which ids may be a slot's target in training: every ordinary word and ``<unk>``."""
        return (ids >= self.special_ids["num_special"]) | (ids == self.special_ids["unk"])

    def is_candidate(self, ids: torch.Tensor) -> torch.Tensor:
        """Which ids fill-the-slot may predict: every ordinary word (``<unk>`` is never a
        scored target, so predicting it could never be right)."""
        return ids >= self.special_ids["num_special"]


def slot_contexts(head: Context2VecHead, hidden: torch.Tensor,
                  lengths: torch.Tensor) -> torch.Tensor:
    """Context vectors (B, T, C) from a bilstm output (B, T, 2D) of rows of ``lengths``
    (B,): slot i reads the forward state at i-1 and the backward state at i+1 (zero past
    either end of the row), never anything computed from the word at i."""
    forward, backward = split_directions(hidden)  # (B, T, D) each
    batch, length, width = forward.shape
    zeros = forward.new_zeros(batch, 1, width)
    left = torch.cat([zeros, forward[:, :-1]], dim=1)  # (B, T, D): has read 0..i-1
    right = torch.cat([backward[:, 1:], zeros], dim=1)  # (B, T, D): has read T-1..i+1
    places = torch.arange(length, device=hidden.device)  # (T,)
    past_end = places[None, :] + 1 >= lengths[:, None]  # (B, T): i+1 is padding
    right = right.masked_fill(past_end[..., None], 0.0)
    return head.mlp(torch.cat([left, right], dim=-1))  # (B, T, C)


def _lengths(ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    if attention_mask is None:
        return torch.full((ids.shape[0],), ids.shape[1], device=ids.device)  # (B,)
    return attention_mask.sum(1).long()  # (B,)


def _head(model) -> Context2VecHead:
    if NAME not in model.heads:
        raise LmlabError("the model has no context2vec head: context vectors need a run "
                         "trained with the context2vec objective (configs/context2vec/)")
    return model.heads[NAME]


def wrap_rows(ids: torch.Tensor, attention_mask: torch.Tensor | None,
              special_ids: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded rows (B, T) -> ``[CLS] row [SEP]`` rows (B, T+2) and their mask."""
    lengths = _lengths(ids, attention_mask)  # (B,)
    batch, length = ids.shape
    wrapped = torch.full((batch, length + 2), special_ids["pad"], dtype=ids.dtype,
                         device=ids.device)
    wrapped[:, 0] = special_ids["cls"]
    real = torch.arange(length, device=ids.device)[None, :] < lengths[:, None]  # (B, T)
    wrapped[:, 1:-1] = torch.where(real, ids, wrapped[:, 1:-1])
    wrapped[torch.arange(batch, device=ids.device), lengths + 1] = special_ids["sep"]
    mask = (torch.arange(length + 2, device=ids.device)[None, :] < (lengths + 2)[:, None])
    return wrapped, mask.long()  # (B, T+2) each


def context_vectors(model, ids: torch.Tensor,
                    attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The context vector (B, T, C) of every slot of ``ids`` (B, T), right-padded token
    ids of the run's tokenizer (``attention_mask`` (B, T): 1 for real tokens; None = all
    real), for a model trained with the context2vec objective (e.g. from
    :func:`lmlab.training.checkpoint.load_run`). Each row is read as a sentence, wrapped
    ``[CLS] row [SEP]`` as in training; the vectors of padding positions are not
    meaningful. Gradients flow (no ``no_grad`` here): wrap the call when extracting
    frozen features."""
    head = _head(model)
    wrapped, mask = wrap_rows(ids, attention_mask, head.special_ids)  # (B, T+2)
    hidden = model(wrapped, mask).hidden  # (B, T+2, 2D)
    return slot_contexts(head, hidden, mask.sum(1))[:, 1:-1]  # (B, T, C)


def noise_ids(noise: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Noise words by inverse CDF: each uniform in [0, 1) located in the cumulative noise
    distribution (V,); ids of zero probability are never returned. uniforms: (...) ->
    ids (...)."""
    if not bool(noise.sum() > 0):
        raise LmlabError("context2vec: the noise distribution is empty; the objective's "
                         "prepare(model, train_ids) fills it from the train split")
    cdf = torch.cumsum(noise.double(), 0)  # (V,)
    cdf = cdf / cdf[-1]  # the last entry is exactly 1 > every uniform
    return torch.searchsorted(cdf, uniforms.to(cdf.device, torch.float64), right=True)


def negative_sampling_loss(contexts: torch.Tensor, targets: torch.Tensor,
                           negatives: torch.Tensor) -> torch.Tensor:
    """Per-slot loss (N,) of Melamud et al. eq. 1 / Mikolov et al. 2013 eq. 4:
    ``-[log σ(t·c) + Σ_k log σ(-n_k·c)]``. contexts, targets: (N, C); negatives:
    (N, K, C) — embeddings, not ids."""
    dtype = torch.promote_types(contexts.dtype, torch.float32)  # fp32 at least (autocast)
    contexts = contexts.to(dtype)
    positive = F.logsigmoid((contexts * targets.to(dtype)).sum(-1))  # (N,)
    negative = F.logsigmoid(-torch.einsum("nc,nkc->nk", contexts, negatives.to(dtype)))
    return -(positive + negative.sum(-1))  # (N,)


def nearest_targets(contexts: torch.Tensor, targets: torch.Tensor, candidates: torch.Tensor,
                    k: int) -> torch.Tensor:
    """The ``k`` candidate words (N, k), best first, whose target embeddings have the
    highest cosine similarity with each context. contexts: (N, C); targets: (V, C);
    candidates: (V,) bool, the words that may be chosen."""
    targets = F.normalize(targets.float(), dim=-1)  # (V, C)
    k = min(k, int(candidates.sum()))
    best = []
    for start in range(0, len(contexts), SCORE_CHUNK):  # bounds the (n, V) score matrix
        chunk = F.normalize(contexts[start: start + SCORE_CHUNK].float(), dim=-1)  # (n, C)
        scores = (chunk @ targets.T).masked_fill(~candidates, float("-inf"))  # (n, V)
        best.append(scores.topk(k, dim=-1).indices)  # (n, k)
    return torch.cat(best) if best else contexts.new_zeros(0, k, dtype=torch.long)


def held_out_sentences(ids: np.ndarray, tokenizer, max_length: int,
                       max_tokens: int = 0) -> list[np.ndarray]:
    """The split's sentences: cut at ``<eos>`` (dropped) and after ``.``/``?``/``!``
    (kept), each at most ``max_length`` tokens (a longer one cut into pieces)."""
    stream = np.asarray(ids[: max_tokens or len(ids)], dtype=np.int64)  # (N,)
    enders = [i for i in map(tokenizer.token_to_id, SENTENCE_ENDS) if i is not None]
    is_eos = stream == tokenizer.eos_id
    cuts = np.flatnonzero(is_eos | np.isin(stream, enders))
    sentences, start = [], 0
    for cut in [*cuts.tolist(), len(stream)]:
        end = cut if cut == len(stream) or is_eos[cut] else cut + 1
        for piece in range(start, end, max_length):
            sentences.append(stream[piece: min(piece + max_length, end)])
        start = cut + 1
    return sentences


class Context2VecObjective(StatelessObjective):
    """Negative sampling on bilstm slot contexts; held out, fill-the-slot accuracy."""

    evaluation_kind = "fill-slot"

    def __init__(self, config: Context2VecConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer

    def heads(self, model_config, embedding) -> dict:
        width = model_config.embedding.hidden_size  # each bilstm direction's width
        context = self.config.context_size or width
        return {NAME: Context2VecHead(width, context, self.config.mlp_hidden_size or 2 * context,
                                      model_config.embedding.vocab_size,
                                      _special_ids(self.tokenizer))}

    def prepare(self, model, train_ids) -> None:
        """The noise distribution: train-split counts^α, zero for the non-target specials."""
        head = model.heads[NAME]
        counts = unigram_counts(train_ids, head.noise.numel())  # (V,)
        counts[~head.is_target(torch.arange(head.noise.numel()))] = 0.0
        weights = counts ** self.config.noise_power
        weights[counts == 0] = 0.0  # 0^0 = 1: a word never seen is never a negative
        head.noise.copy_((weights / weights.sum()).float())

    def corrupt(self, batch: dict) -> dict:
        """Targets (every real slot whose word may be a target) and the negatives'
        uniforms (B, T, K), a generator per (seed, step, example id)."""
        ids = batch["input_ids"]  # (B, T)
        mask = batch.get("attention_mask")
        real = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask.bool()
        is_target = (ids >= self.tokenizer.num_special) | (ids == self.tokenizer.unk_id)
        labels = torch.where(real & is_target, ids, torch.full_like(ids, IGNORE))
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        uniforms = torch.stack([
            torch.rand(ids.shape[1], self.config.num_negatives, dtype=torch.float64,
                       generator=row_generator(self.seed, batch.get("step", 0), int(example),
                                               NEGATIVES_STREAM))
            for example in example_ids.tolist()])  # (B, T, K)
        return {**batch, "c2v_labels": labels, "c2v_uniforms": uniforms}

    def _slot_losses(self, model, batch: dict):
        head = model.heads[NAME]
        hidden = shared_forward(model, batch).hidden  # (B, T, 2D)
        contexts = slot_contexts(head, hidden, _lengths(batch["input_ids"],
                                                        batch.get("attention_mask")))
        labels = batch["c2v_labels"]  # (B, T)
        scored = labels != IGNORE
        negatives = noise_ids(head.noise, batch["c2v_uniforms"][scored])  # (N, K)
        losses = negative_sampling_loss(contexts[scored], head.targets(labels[scored]),
                                        head.targets(negatives))  # (N,)
        return losses, contexts[scored], labels[scored]

    def loss(self, model, batch: dict) -> LossOutput:
        losses, _, _ = self._slot_losses(model, batch)
        loss = losses.mean()
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(losses.numel())})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        """Padded ``[CLS] sentence [SEP]`` batches, negatives fixed by the seed, ``<unk>``
        targets left out."""
        sentences = held_out_sentences(ids, self.tokenizer, settings.seq_len - 2,
                                       settings.max_tokens)
        for first in range(0, len(sentences), settings.batch_size):
            group = sentences[first: first + settings.batch_size]
            rows = torch.full((len(group), max(map(len, group))), self.tokenizer.pad_id)
            for row, sentence in enumerate(group):
                rows[row, : len(sentence)] = torch.from_numpy(sentence)
            lengths = torch.tensor([len(sentence) for sentence in group])
            mask = (torch.arange(rows.shape[1])[None, :] < lengths[:, None]).long()
            wrapped, wrapped_mask = wrap_rows(rows, mask, _special_ids(self.tokenizer))
            batch = self.corrupt({"input_ids": wrapped, "attention_mask": wrapped_mask,
                                  "step": 0, "example_ids": torch.arange(first, first + len(group))})
            labels = batch["c2v_labels"]
            batch["c2v_labels"] = labels.masked_fill(labels == self.tokenizer.unk_id, IGNORE)
            yield batch

    def evaluate(self, model, batch: dict) -> dict:
        """Summed NS loss, top-1/top-10 hits (cosine, whole vocabulary) and the
        most-frequent-words baseline's hits over the batch's scored slots."""
        head = model.heads[NAME]
        losses, contexts, labels = self._slot_losses(model, batch)  # (N,), (N, C), (N,)
        vocabulary = torch.arange(head.noise.numel(), device=labels.device)  # (V,)
        best = nearest_targets(contexts, head.targets.weight, head.is_candidate(vocabulary), 10)
        hits = int((best[:, :1] == labels[:, None]).sum())
        hits_10 = int((best == labels[:, None]).any(-1).sum())
        # Baseline: the train split's most frequent words (the noise is monotone in the
        # counts), <unk> left out as it is never a scored target.
        frequent = head.noise.masked_fill(vocabulary == head.special_ids["unk"], -1.0)
        frequent = frequent.topk(min(10, len(frequent))).indices  # (10,)
        return {"ns_loss": float(losses.sum()), "tokens": int(labels.numel()), "hits": hits,
                "hits_10": hits_10, "frequent_hits": int((labels == frequent[0]).sum()),
                "frequent_hits_10": int(torch.isin(labels, frequent).sum())}

    def summarize(self, totals: dict) -> dict:
        slots = max(1, totals.get("tokens", 0))
        return {"kind": "fill-slot", "loss": totals.get("ns_loss", 0.0) / slots,
                "accuracy": totals.get("hits", 0) / slots,
                "top10_accuracy": totals.get("hits_10", 0) / slots,
                "most_frequent_accuracy": totals.get("frequent_hits", 0) / slots,
                "most_frequent_top10_accuracy": totals.get("frequent_hits_10", 0) / slots,
                "tokens": int(totals.get("tokens", 0))}


def _special_ids(tokenizer) -> dict[str, int]:
    return {"pad": tokenizer.pad_id, "unk": tokenizer.unk_id, "cls": tokenizer.cls_id,
            "sep": tokenizer.sep_id, "num_special": tokenizer.num_special}
