"""T5's relative position buckets (Raffel et al. 2020 §2.1; Shaw et al. 2018).

Each head adds a learned scalar to the attention logit of (query i, key j) that depends
only on the bucket of the offset j - i: half of the buckets (bidirectional) or all of them
(causal) hold the exact small offsets, the rest cover offsets up to ``max_distance``
logarithmically; farther offsets share the last bucket. One table per stack, shared by its
layers (T5 computes the bias in the first layer and reuses it).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool,
                             num_buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """relative_position = key position - query position (any shape) -> bucket ids."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:  # a causal query sees only keys at or before it: distance >= 0
        distance = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # Offsets past max_exact get log-spaced buckets up to max_distance.
    large = max_exact + (torch.log(distance.float().clamp(min=1) / max_exact)
                         / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class RelativePositionBias(nn.Module):
    def __init__(self, num_buckets: int, max_distance: int, num_heads: int, bidirectional: bool):
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bidirectional = bidirectional
        self.table = nn.Embedding(num_buckets, num_heads)

    def forward(self, query_length: int, key_length: int, past: int = 0) -> torch.Tensor:
        """(1, H, Tq, Tk) additive logits; queries sit at positions past..past+Tq-1 and keys
        at 0..Tk-1 (a decoder step with ``past`` cached keys)."""
        device = self.table.weight.device
        queries = torch.arange(past, past + query_length, device=device)[:, None]  # (Tq, 1)
        keys = torch.arange(key_length, device=device)[None, :]  # (1, Tk)
        buckets = relative_position_bucket(keys - queries, self.bidirectional,
                                           self.num_buckets, self.max_distance)  # (Tq, Tk)
        return self.table(buckets).permute(2, 0, 1)[None]  # (1, H, Tq, Tk)
