"""Multi-head scaled dot-product attention (Vaswani et al. 2017, eq. 1 and §3.2.2).

The reference path computes softmax(QK^T / sqrt(d)) V explicitly; the fast path calls
PyTorch's fused ``scaled_dot_product_attention``. Tests compare the two (DESIGN §6.9).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask: torch.Tensor | None) -> torch.Tensor:
    """q, k, v: (B, H, T, d); mask: bool (B|1, 1, T|1, T), True = may attend."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # (B, H, T, d)


class MultiHeadAttention(nn.Module):
    """Self-attention with one fused QKV projection (one matmul instead of three)."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout = dropout
        self.use_reference = False

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=-1)  # 3 × (B, T, D)
        shape = (batch, length, self.num_heads, width // self.num_heads)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
        if self.use_reference:
            full = mask
            if causal:
                lower = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
                full = lower if mask is None else (mask & lower)
            y = reference_attention(q, k, v, full)
        else:
            # SDPA cannot take is_causal together with an explicit mask: fold them.
            if causal and mask is not None:
                lower = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
                mask, causal = mask & lower, False
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal,
                dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(batch, length, width)  # (B, T, D)
        return self.out(y)
