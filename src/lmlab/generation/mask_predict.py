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

from lmlab.generation.steppers import CausalTransformerStepper, _logits


class MaskPredictStepper(CausalTransformerStepper):
    """The causal stepper's rows and cache; its own attention mask and [MASK] step."""

    def __init__(self, model, pad_id: int, mask_id: int, use_cache: bool = True):
        super().__init__(model, pad_id, use_cache)
        self.mask_id = mask_id

    def _mask(self, queries: int) -> torch.Tensor:
        """(B, Q, K) keep-mask of the last ``queries`` positions of the sequence followed by
        a [MASK]: the real source keys, the target keys up to the query, itself."""
        keep, source = self.rows.keep, self.rows.prompt_width
        keys = keep.shape[1] + 1  # the sequence and its [MASK]
        column = torch.arange(keys, device=keep.device)
        row = torch.arange(keys - queries, keys, device=keep.device)
        allowed = (column[None] < source) | (column[None] <= row[:, None])  # (Q, K)
        real = torch.cat([keep, torch.ones_like(keep[:, :1])], dim=1)  # (B, K)
        own = column[None] == row[:, None]  # a padding query sees itself (no empty row)
        return (real[:, None, :] & allowed[None]) | own[None]

    def _run(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Run ``ids`` (the new real positions) followed by a [MASK]; its logits (B, V)."""
        if not self.use_cache:
            ids, positions = self.rows.ids, self.rows.positions
        mask_token = torch.full_like(ids[:, :1], self.mask_id)
        ids = torch.cat([ids, mask_token], dim=1)  # (B, n + 1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        length = self.rows.keep.shape[1] + 1
        column = torch.arange(length - ids.shape[1], length, device=ids.device)
        segments = (column >= self.rows.prompt_width).long().expand_as(ids)  # target: 1
        output = self.model(ids, self._mask(ids.shape[1]), segments, positions=positions,
                            cache=self.cache)
        if self.cache is not None:
            self.cache.truncate(length - 1)  # forget the [MASK]
        return _logits(self.model, output.hidden)
