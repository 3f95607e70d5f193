"""XLNet's permutation language modelling (Yang et al. 2019, §2.2-2.3, eqs. 3-5).

For each example a factorisation order z is drawn; the model predicts x_{z_t} from
x_{z<t} (eq. 3) with two-stream self-attention (§2.3): the content stream h sees the
contents z_<=t (itself included), the query stream g sees the contents z_<t and its own
position only, starting from a learned vector w (g^(0) = w). The prediction is the query
stream's output through the tied LM head (eq. 4, with g in place of e(x)·h).

* Partial prediction (§2.3, eq. 6): only the last ``ceil(n / partial_k)`` tokens of the
  order are targets (n = the predictable tokens of the row, i.e. not special, not
  padding; at most ``real - 1`` so every target has one token before it).
* Special tokens ([CLS], [SEP]) come first in the order (everyone sees them) and are
  never targets; padding is last and never read.
* ``span: true`` (the paper's span-based prediction, its §A.2/A.3 setup): the targets are
  one contiguous run of positions, read in a random order after all the other tokens.
* ``data.batching: pairs``: XLNet's two-segment input (§3.1: "two segments, either from the
  same context or not", concatenated as one sequence), ``[CLS] A [SEP] B [SEP]`` with
  segment ids 0/1 that the relative segment encoding (§2.5) reads; no pair label is
  predicted (XLNet drops NSP). ``blocks``: one segment per row.

Orders are drawn by :func:`~lmlab.objectives.base.row_generator` (seed, step, example id),
so resume is exact; held out, the order depends on the example only (EVALUATION_SEED) and
is built on the CPU before the batch moves. The held-out measure is the same loss:
``evaluation_kind = "permutation"``, perplexity = exp(mean NLL of the targets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import IGNORE, eval_stream
from lmlab.errors import ConfigError
from lmlab.objectives.base import (EVALUATION_SEED, ConfigDefaults, EvaluationSettings,
                                   LossOutput, StatelessObjective, held_out_blocks,
                                   memory_from_state, memory_state, perplexity_summary,
                                   row_generator)


@dataclass
class XLNetConfig(ConfigDefaults):
    name: Literal["xlnet"] = "xlnet"
    weight: float = 1.0
    partial_k: int = 6
    """K of partial prediction (§2.3): the last 1/K of the order is predicted (XLNet: 6-7)."""
    span: bool = False
    """Predict one contiguous span of positions instead of a random set (§A.2)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.partial_k < 1:
            raise ConfigError(f"{path}.partial_k: must be >= 1, got {self.partial_k}")

    def describe(self) -> str:
        return f"{self.name} (K={self.partial_k}{', span' if self.span else ''})"

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "name", None) != "transformer":
            raise ConfigError(f"{path}: xlnet needs model.encoder.name: transformer")
        if encoder.mask != "permutation":
            raise ConfigError(f"model.encoder.mask: xlnet's objective gives the permutation "
                              f"masks; set permutation, got {encoder.mask}")
        # With a memory each row must continue its text from batch to batch (§2.5).
        wanted = ("stream",) if encoder.memory_length else ("blocks", "pairs")
        if run_config.data.batching not in wanted:
            why = (f"a memory (model.encoder.memory_length={encoder.memory_length}) carries "
                   f"each row into its next segment" if encoder.memory_length else
                   "xlnet reads [CLS] block [SEP] rows or [CLS] A [SEP] B [SEP] pairs")
            raise ConfigError(f"data.batching: {why}; set {' or '.join(wanted)}, got "
                              f"{run_config.data.batching}")


def factorisation_order(real: int, predictable: torch.Tensor, count: int, span: bool,
                        generator: torch.Generator) -> torch.Tensor:
    """The order z (a permutation of 0..real-1) of one row's real positions: the
    unpredictable ones (specials) first, in place order, then the predictable ones in a
    random order, whose last ``count`` are the targets (``span``: a contiguous run)."""
    fixed = (~predictable[:real]).nonzero().squeeze(1)  # (s,)
    free = predictable[:real].nonzero().squeeze(1)  # (n,)
    if not (span and count):
        return torch.cat([fixed, free[torch.randperm(free.numel(), generator=generator)]])
    start = int(torch.randint(0, free.numel() - count + 1, (1,), generator=generator))
    chosen = torch.zeros(free.numel(), dtype=torch.bool)
    chosen[start:start + count] = True
    targets = free[chosen][torch.randperm(count, generator=generator)]
    others = free[~chosen][torch.randperm(free.numel() - count, generator=generator)]
    return torch.cat([fixed, others, targets])


def two_stream_masks(rank: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """rank (B, T): the place of each position in its order; keep (B, T): real tokens.
    -> content mask [i, j] = rank_j <= rank_i and query mask rank_j < rank_i, (B, T, T)
    bool, over real keys only. The first token of the order has nothing to read: its query
    row reads itself (it is never a target, so nothing leaks into the loss)."""
    content = (rank[:, None, :] <= rank[:, :, None]) & keep[:, None, :]  # (B, T, T)
    query = (rank[:, None, :] < rank[:, :, None]) & keep[:, None, :]
    empty = ~query.any(-1)  # (B, T)
    query = query | (torch.diag_embed(empty) & keep[:, None, :])
    return content, query


class QueryVector(nn.Module):
    """w, the query stream's initial state g^(0) (§2.3), one (D,) vector."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(hidden_size) * 0.02)  # XLNet's mask_emb init

    def forward(self, like: torch.Tensor) -> torch.Tensor:
        return self.weight.expand_as(like)  # (B, T, D)


class XLNetObjective(StatelessObjective):
    """Permutation LM with two-stream attention; held out, the same loss under a fixed
    (per-example) order of ``[CLS] … [SEP]`` blocks."""

    evaluation_kind = "permutation"

    def __init__(self, config: XLNetConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer, self.num_special = tokenizer, tokenizer.num_special
        self.memory = None  # the previous segment's content stream (detached), training
        self.eval_memory = None  # the same while reading a held-out stream

    def heads(self, model_config, embedding) -> dict:
        return {"xlnet": QueryVector(model_config.embedding.hidden_size)}

    def target_count(self, predictable: int, real: int) -> int:
        """ceil(n / K), at most real - 1 (every target reads at least one token)."""
        return max(0, min(math.ceil(predictable / self.config.partial_k), real - 1))

    def permute(self, batch: dict, static: bool = False) -> dict:
        """Orders, masks and labels of a batch (all built on the CPU): ``xlnet_rank``
        (B, T), ``content_mask`` / ``query_mask`` (B, T, T), ``xlnet_labels`` (B, T)."""
        ids = batch["input_ids"]
        batch_size, length = ids.shape
        keep = batch.get("attention_mask", torch.ones_like(ids)).bool()  # (B, T)
        predictable = keep & (ids >= self.num_special)
        example_ids = batch.get("example_ids", torch.arange(batch_size))
        step = -1 if static else batch.get("step", 0)
        seed = EVALUATION_SEED if static else self.seed
        rank = torch.full_like(ids, length)  # padding: after every real token
        labels = torch.full_like(ids, IGNORE)
        for row in range(batch_size):
            real = int(keep[row].sum())  # real tokens first, padding after (blocks, pad right)
            count = self.target_count(int(predictable[row].sum()), real)
            order = factorisation_order(real, predictable[row], count, self.config.span,
                                        row_generator(seed, step, int(example_ids[row]), -19))
            rank[row, order] = torch.arange(real)
            targets = order[real - count:]
            labels[row, targets] = ids[row, targets]
        content, query = two_stream_masks(rank, keep)
        return {**batch, "xlnet_rank": rank, "content_mask": content, "query_mask": query,
                "xlnet_labels": labels}

    def corrupt(self, batch: dict) -> dict:
        return self.permute(batch)

    def streams(self, model, batch: dict, memory=None):
        """(h, g, new memory), h and g (B, T, D); ``memory`` from the previous segment."""
        x = model.embedding(batch["input_ids"], batch.get("segments"))  # (B, T, D)
        g = model.heads["xlnet"](x)  # (B, T, D): w everywhere
        return model.encoder.two_stream(x, g, batch["content_mask"], batch["query_mask"],
                                        memory, batch.get("segments"))

    def _carried(self, model, batch: dict, memory):
        """The memory this batch reads: none at the start of a stream or without one."""
        return None if (batch.get("reset_memory") or not model.recurrent) else memory

    @staticmethod
    def _targets(batch: dict, g: torch.Tensor):
        labels = batch["xlnet_labels"]
        chosen = labels != IGNORE  # (B, T)
        return g[chosen], labels[chosen]  # (N, D), (N,)

    def loss(self, model, batch: dict) -> LossOutput:
        _, g, self.memory = self.streams(model, batch, self._carried(model, batch, self.memory))
        states, labels = self._targets(batch, g)
        loss = model.lm_head.loss(states, labels)
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(labels.numel())})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        self.eval_memory = None
        if model.recurrent:  # one stream, each window reading the last as its memory
            for index, batch in enumerate(eval_stream(ids, settings.seq_len, settings.max_tokens)):
                yield self.permute({**batch, "example_ids": torch.tensor([index])}, static=True)
            return
        for batch in held_out_blocks(ids, settings, self.tokenizer):  # ordered on the CPU
            yield self.permute(batch, static=True)

    def evaluate(self, model, batch: dict) -> dict:
        _, g, self.eval_memory = self.streams(model, batch,
                                              self._carried(model, batch, self.eval_memory))
        states, labels = self._targets(batch, g)
        nll = F.cross_entropy(model.lm_head(states), labels, reduction="sum")
        return {"nll": nll.item(), "tokens": int(labels.numel())}

    def summarize(self, totals: dict) -> dict:
        return perplexity_summary(totals, "permutation")

    # The carried memory is part of the trainer state, so resume is exact.
    def state_dict(self) -> dict:
        return memory_state(self.memory)

    def load_state_dict(self, state: dict) -> None:
        self.memory = memory_from_state(state)
