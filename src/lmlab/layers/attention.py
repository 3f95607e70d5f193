"""Multi-head scaled dot-product attention (Vaswani et al. 2017, eq. 1 and §3.2.2).

The reference path computes softmax(QK^T / sqrt(d)) V explicitly; the fast path calls
PyTorch's fused ``scaled_dot_product_attention``. Tests compare the two (DESIGN §6.9).

The heads' inner width H·d may be smaller than the model width D: a layer whose heads were
pruned (Michel et al. 2019, :mod:`lmlab.compression.pruning.heads`) keeps d = D / H_0 of
the unpruned model and fewer heads. ``head_gate`` (H,) multiplies each head's output
before the output projection (Michel et al. eq. 2's ξ_h); None (the default) costs nothing.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask: torch.Tensor | None) -> torch.Tensor:
    """q: (B, H, Tq, d), k, v: (B, H, Tk, d); mask: bool (True = may attend) or float
    (added to the logits: a position bias, -inf where not allowed), broadcast to
    (B, H, Tq, Tk)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Tq, Tk)
    if mask is not None:
        scores = (scores + mask if mask.is_floating_point()
                  else scores.masked_fill(~mask, float("-inf")))
    return torch.softmax(scores, dim=-1) @ v  # (B, H, Tq, d)


def causal_keep(query_length: int, key_length: int, device) -> torch.Tensor:
    """(Tq, Tk) bool: the queries are the last Tq of Tk positions (a decoder step after
    Tk - Tq cached ones) and each sees the keys at or before its own position."""
    ones = torch.ones(query_length, key_length, dtype=torch.bool, device=device)
    return ones.tril(diagonal=key_length - query_length)


def fold_causal(mask: torch.Tensor | None, query_length: int, key_length: int,
                device) -> torch.Tensor:
    """``mask`` (bool or additive float, or None) with the causal constraint folded in."""
    keep = causal_keep(query_length, key_length, device)
    if mask is None:
        return keep
    if mask.is_floating_point():
        return mask.masked_fill(~keep, float("-inf"))
    return mask & keep


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
           causal: bool, dropout: float = 0.0, use_reference: bool = False) -> torch.Tensor:
    """softmax(QK^T / sqrt(d) [+ bias]) V, fused (SDPA) or by the reference path.
    q: (B, H, Tq, d), k, v: (B, H, Tk, d) -> (B, H, Tq, d)."""
    query_length, key_length = q.shape[2], k.shape[2]
    if use_reference:
        if causal:
            mask = fold_causal(mask, query_length, key_length, q.device)
        return reference_attention(q, k, v, mask)
    # SDPA's is_causal aligns the triangle top-left and cannot take an explicit mask too:
    # fold it into the mask unless the queries and keys are the same positions, unmasked.
    if causal and (mask is not None or query_length != key_length):
        mask, causal = fold_causal(mask, query_length, key_length, q.device), False
    if mask is not None and mask.is_floating_point():
        mask = mask.to(q.dtype)  # autocast: SDPA wants the bias in the query's dtype
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                          dropout_p=dropout)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, D) -> (B, H, T, D/H)."""
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """(B, H, T, d) -> (B, T, H·d)."""
    batch, heads, length, size = y.shape
    return y.transpose(1, 2).reshape(batch, length, heads * size)


def project_qkv(qkv: nn.Linear, num_heads: int, x: torch.Tensor, cache=None):
    """Queries, keys and values (B, H, T, d) of ``x`` (B, T, D) through one fused
    projection (3·H·d outputs, split by the inner width H·d, not by D); with a ``cache`` (:class:`~lmlab.layers.decoder_attention.LayerCache`) the
    keys and values of earlier steps are prepended, (B, H, t+T, d), and kept."""
    inner = qkv.out_features // 3  # H·d (= D unless heads were pruned)
    q, k, v = (split_heads(t, num_heads) for t in qkv(x).split(inner, dim=-1))
    if cache is not None:
        if cache.keys is not None:
            k = torch.cat([cache.keys, k], dim=2)  # (B, H, t+T, d)
            v = torch.cat([cache.values, v], dim=2)
        cache.keys, cache.values = k, v
    return q, k, v


class MultiHeadAttention(nn.Module):
    """Self-attention with one fused QKV projection (one matmul instead of three)."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, head_size: int | None = None):
        """``bias``: whether the projections have biases (T5's have none); ``head_size``
        d (default D / H): a pruned layer keeps its unpruned d, so H·d < D; H may be 0."""
        super().__init__()
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads if head_size is None else head_size
        inner = num_heads * self.head_size
        with warnings.catch_warnings():  # inner = 0 (every head pruned): nothing to init
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            self.qkv = nn.Linear(hidden_size, 3 * inner, bias=bias)
            self.out = nn.Linear(inner, hidden_size, bias=bias)
        self.dropout = dropout
        self.use_reference = False
        self.head_gate: torch.Tensor | None = None
        """(H,) per-head gate on the heads' outputs (a head mask); not a parameter."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, causal: bool,
                cache=None) -> torch.Tensor:
        """x: (B, T, D). ``cache`` (a decoder's :class:`~lmlab.layers.decoder_attention.
        LayerCache`): keys and values of earlier steps are prepended and kept, so an
        incremental step projects only its new positions."""
        if self.num_heads == 0:  # every head pruned: the output projection's bias alone
            return self.out(x.new_zeros(*x.shape[:-1], 0))  # (B, T, D)
        q, k, v = project_qkv(self.qkv, self.num_heads, x, cache)
        y = attend(q, k, v, mask, causal, self.dropout if self.training else 0.0,
                   self.use_reference)  # (B, H, T, d)
        if self.head_gate is not None:
            y = y * self.head_gate.to(y.dtype)[None, :, None, None]  # ξ_h · Att_h(x)
        return self.out(merge_heads(y))
