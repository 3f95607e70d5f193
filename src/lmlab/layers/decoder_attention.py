"""The decoder's cache and its cross-attention (Vaswani et al. 2017 §3.2.3).

* Causal self-attention over the target prefix is the encoder's
  :class:`~lmlab.layers.attention.MultiHeadAttention` given a :class:`LayerCache`: the keys
  and values of earlier steps are kept, so an incremental step projects only its new tokens.
* :class:`CrossAttention`: queries from the decoder, keys and values from the encoder
  output ("memory"), projected once per source and cached.

Both go through :func:`lmlab.layers.attention.attend` (fused SDPA, or the reference path
with ``use_reference``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmlab.layers.attention import attend, merge_heads, split_heads


@dataclass
class LayerCache:
    """One decoder layer's cached state for incremental decoding."""

    keys: torch.Tensor | None = None  # (B, H, t, d): self-attention keys of the t steps so far
    values: torch.Tensor | None = None  # (B, H, t, d)
    memory_keys: torch.Tensor | None = None  # (B, H, S, d): projected encoder output
    memory_values: torch.Tensor | None = None  # (B, H, S, d)


class KeyValueCache:
    """Per-layer caches of one batch being decoded step by step (a decoder's, or a causal
    encoder's when it generates: GPT)."""

    def __init__(self, num_layers: int):
        self.layers = [LayerCache() for _ in range(num_layers)]

    @property
    def length(self) -> int:
        """Positions decoded so far."""
        keys = self.layers[0].keys
        return 0 if keys is None else keys.shape[2]

    def truncate(self, length: int) -> None:
        """Forget the self-attention keys and values after the first ``length`` positions
        (UniLM's decoding drops its [MASK] placeholder each step)."""
        for layer in self.layers:
            layer.keys, layer.values = layer.keys[:, :, :length], layer.values[:, :, :length]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the batch ``rows`` (B',), in that order: beams reordered, finished
        sequences dropped."""
        for layer in self.layers:
            for name in ("keys", "values", "memory_keys", "memory_values"):
                tensor = getattr(layer, name)
                if tensor is not None:
                    setattr(layer, name, tensor.index_select(0, rows))


class CrossAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.key_value = nn.Linear(hidden_size, 2 * hidden_size, bias=bias)
        self.out = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.dropout = dropout
        self.use_reference = False

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
                cache: LayerCache | None = None) -> torch.Tensor:
        """x: (B, T, D); memory: (B, S, D); memory_mask: bool (B, 1, 1, S) or None."""
        q = split_heads(self.query(x), self.num_heads)  # (B, H, T, d)
        if cache is not None and cache.memory_keys is not None:
            k, v = cache.memory_keys, cache.memory_values
        else:
            k, v = (split_heads(t, self.num_heads)
                    for t in self.key_value(memory).split(memory.shape[-1], dim=-1))  # (B, H, S, d)
            if cache is not None:
                cache.memory_keys, cache.memory_values = k, v
        y = attend(q, k, v, memory_mask, causal=False,
                   dropout=self.dropout if self.training else 0.0,
                   use_reference=self.use_reference)
        return self.out(merge_heads(y))
