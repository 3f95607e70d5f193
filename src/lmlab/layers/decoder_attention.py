"""The decoder's two attentions (Vaswani et al. 2017 §3.2.3), with a key/value cache.

* :class:`CachedSelfAttention`: causal self-attention over the target prefix. With a
  :class:`LayerCache`, the keys and values of earlier steps are kept, so an incremental
  step projects only its new tokens and attends over all of them.
* :class:`CrossAttention`: queries from the decoder, keys and values from the encoder
  output ("memory"), projected once per source and cached.

Both go through :func:`lmlab.layers.attention.attend` (fused SDPA, or the reference path
with ``use_reference``), the same kernel choice as the encoder's attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmlab.layers.attention import attend


@dataclass
class LayerCache:
    """One decoder layer's cached state for incremental decoding."""

    keys: torch.Tensor | None = None  # (B, H, t, d): self-attention keys of the t steps so far
    values: torch.Tensor | None = None  # (B, H, t, d)
    memory_keys: torch.Tensor | None = None  # (B, H, S, d): projected encoder output
    memory_values: torch.Tensor | None = None  # (B, H, S, d)


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)  # (B, H, T, d)


def _merge(y: torch.Tensor) -> torch.Tensor:
    batch, heads, length, size = y.shape
    return y.transpose(1, 2).reshape(batch, length, heads * size)  # (B, T, D)


class CachedSelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout = dropout
        self.use_reference = False

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None,
                cache: LayerCache | None = None) -> torch.Tensor:
        """x: (B, T, D) new target positions; bias: additive (1|B, H, T, t+T) or None."""
        q, k, v = (_heads(t, self.num_heads)
                   for t in self.qkv(x).split(x.shape[-1], dim=-1))  # 3 × (B, H, T, d)
        if cache is not None:
            if cache.keys is not None:
                k = torch.cat([cache.keys, k], dim=2)  # (B, H, t+T, d)
                v = torch.cat([cache.values, v], dim=2)
            cache.keys, cache.values = k, v
        y = attend(q, k, v, bias, causal=True, dropout=self.dropout if self.training else 0.0,
                   use_reference=self.use_reference)
        return self.out(_merge(y))


class CrossAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key_value = nn.Linear(hidden_size, 2 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout = dropout
        self.use_reference = False

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
                cache: LayerCache | None = None) -> torch.Tensor:
        """x: (B, T, D); memory: (B, S, D); memory_mask: bool (B, 1, 1, S) or None."""
        q = _heads(self.query(x), self.num_heads)  # (B, H, T, d)
        if cache is not None and cache.memory_keys is not None:
            k, v = cache.memory_keys, cache.memory_values
        else:
            k, v = (_heads(t, self.num_heads)
                    for t in self.key_value(memory).split(memory.shape[-1], dim=-1))  # (B, H, S, d)
            if cache is not None:
                cache.memory_keys, cache.memory_values = k, v
        y = attend(q, k, v, memory_mask, causal=False,
                   dropout=self.dropout if self.training else 0.0,
                   use_reference=self.use_reference)
        return self.out(_merge(y))
