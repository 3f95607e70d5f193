"""UniLM's decoding (Dong et al. 2019, §3.2): a bidirectional transformer fine-tuned under
the sequence-to-sequence mask generates by appending ``[MASK]`` after the sequence and
predicting it, then putting the chosen token in its place and appending a new ``[MASK]``.

The source (``[CLS] source [SEP]``, segment 0) attends to itself in both directions; each
target token (segment 1) to the source, the target tokens before it and itself. Prompts
are left-padded so every row's source ends at the same column, with position ids counted
from each row's first real token (as :class:`~lmlab.generation.steppers.
CausalTransformerStepper`).

With the key/value cache each step runs two positions, the last chosen token and the new
``[MASK]``, and then drops the ``[MASK]``'s keys and values, so the cache only ever holds
real tokens; ``use_cache=False`` recomputes the whole sequence each step (the reference
the cached path is tested against).
"""

from __future__ import annotations

import torch

from lmlab.generation.steppers import _logits


class MaskPredictStepper:
    def __init__(self, model, pad_id: int, mask_id: int, use_cache: bool = True):
        self.model, self.pad_id, self.mask_id, self.use_cache = model, pad_id, mask_id, use_cache

    def start(self, prompts: list[list[int]]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        width = max(len(prompt) for prompt in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)  # (B, P)
        keep = torch.zeros(len(prompts), width, dtype=torch.bool)  # (B, P): real tokens
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt)
            keep[row, width - len(prompt):] = True
        self.source_width = width
        self.ids, self.keep = ids.to(device), keep.to(device)
        self.positions = (self.keep.long().cumsum(1) - 1).clamp(min=0)  # (B, P)
        self.cache = self.model.encoder.new_cache() if self.use_cache else None
        return self._run(self.ids, self.positions)

    def _mask(self, queries: int) -> torch.Tensor:
        """(B, Q, K) keep-mask of the last ``queries`` positions of the sequence followed by
        a [MASK]: the real source keys, the target keys up to the query, itself."""
        keys = self.keep.shape[1] + 1  # the sequence and its [MASK]
        column = torch.arange(keys, device=self.keep.device)
        row = torch.arange(keys - queries, keys, device=self.keep.device)
        allowed = (column[None] < self.source_width) | (column[None] <= row[:, None])  # (Q, K)
        real = torch.cat([self.keep, torch.ones_like(self.keep[:, :1])], dim=1)  # (B, K)
        own = column[None] == row[:, None]  # a padding query sees itself (no empty row)
        return (real[:, None, :] & allowed[None]) | own[None]

    def _run(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Run ``ids`` (the new real positions) followed by a [MASK]; its logits (B, V)."""
        if not self.use_cache:
            ids, positions = self.ids, self.positions
        mask_token = torch.full_like(ids[:, :1], self.mask_id)
        ids = torch.cat([ids, mask_token], dim=1)  # (B, n + 1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        length = self.keep.shape[1] + 1
        column = torch.arange(length - ids.shape[1], length, device=ids.device)
        segments = (column >= self.source_width).long().expand_as(ids)  # target: 1
        output = self.model(ids, self._mask(ids.shape[1]), segments, positions=positions,
                            cache=self.cache)
        if self.cache is not None:
            self.cache.truncate(self.keep.shape[1])  # forget the [MASK]
        return _logits(self.model, output.hidden)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        new = tokens[:, None].to(self.ids.device)  # (B, 1)
        position = self.positions[:, -1:] + 1  # (B, 1)
        self.ids = torch.cat([self.ids, new], dim=1)
        self.keep = torch.cat([self.keep, torch.ones_like(new, dtype=torch.bool)], dim=1)
        self.positions = torch.cat([self.positions, position], dim=1)
        return self._run(new, position)

    def select(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.ids.device)
        self.ids, self.keep, self.positions = self.ids[rows], self.keep[rows], self.positions[rows]
        if self.cache is not None:
            self.cache.select(rows)
