"""Transformer-XL relative multi-head attention (Dai et al. 2019, §3.3).

For query i and key j the logit is the paper's eq. in §3.3 (terms (a)–(d) regrouped):

    A_ij = (q_i + u) · k_j  +  (q_i + v) · W_R R_{i-j}
           content (a)+(c)     position (b)+(d)

with q_i = W_q x_i, k_j = W_k x̃_j (x̃ = [SG(memory) ∘ x], the memory keys prepended),
R the sinusoid table of Vaswani et al. (2017) indexed by the distance i - j >= 0 (no
learned position), W_R its own projection per layer, and u, v two learned vectors per
head shared by every layer (the encoder ties them). No absolute position enters.

The paper's "relative shift" (appendix B) turns the (T, K) product of queries with the
K distances K-1..0 into the (T, K) matrix indexed by key; :func:`relative_gather` does the
same with an index gather (distance = past + i - j), which tests can read directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.layers.attention import attend, merge_heads, project_qkv, split_heads


def relative_gather(scores: torch.Tensor, past: int, negative: int = 0) -> torch.Tensor:
    """scores (B, H, T, N + K): column c = the score of distance c - N (N = ``negative``
    rows of negative distances first, 0 when causal). -> (B, H, T, K) by key j, for
    queries at key positions past..past+T-1: column j = distance past + i - j. Without
    negative rows, future keys read distance 0; the causal mask removes them."""
    length, keys = scores.shape[-2], scores.shape[-1] - negative
    query = torch.arange(past, past + length, device=scores.device)[:, None]  # (T, 1)
    key = torch.arange(keys, device=scores.device)[None, :]  # (1, K)
    index = (query - key + negative).clamp(min=0)  # (T, K)
    return scores.gather(-1, index.expand(*scores.shape[:-1], keys))


class RelativeMultiHeadAttention(nn.Module):
    """Causal self-attention over ``[memory ∘ x]`` with Transformer-XL relative positions."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, relative_segments: bool = False):
        super().__init__()
        self.num_heads = num_heads
        head_size = hidden_size // num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=bias)
        self.position = nn.Linear(hidden_size, hidden_size, bias=False)  # W_R
        self.out = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.content_bias = nn.Parameter(torch.zeros(num_heads, head_size))  # u (H, d)
        self.position_bias = nn.Parameter(torch.zeros(num_heads, head_size))  # v (H, d)
        # XLNet §2.5: s+ (same segment), s- (different) and the bias b of the segment term.
        self.segment_vectors = (nn.Parameter(torch.randn(2, num_heads, head_size) * 0.02)
                                if relative_segments else None)  # (2, H, d)
        self.segment_bias = (nn.Parameter(torch.zeros(num_heads, head_size))
                             if relative_segments else None)  # (H, d)
        self.dropout = dropout
        self.use_reference = False

    def _memory_keys(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the memory rows only: the K/V part of the fused projection
        (the memory needs no queries)."""
        width = memory.shape[-1]
        bias = self.qkv.bias[width:] if self.qkv.bias is not None else None
        k, v = F.linear(memory, self.qkv.weight[width:], bias).split(width, dim=-1)
        return split_heads(k, self.num_heads), split_heads(v, self.num_heads)  # (B, H, M, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, causal: bool, cache=None,
                memory: torch.Tensor | None = None,
                sinusoids: torch.Tensor | None = None, negative: int = 0,
                query: torch.Tensor | None = None,
                different: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, D); memory: (B, M, D) earlier hidden states (detached), or None;
        sinusoids: (N + K, D) R for distances -N..K-1, K = M + cached + T keys (N =
        ``negative``: 0 when causal, T - 1 for a bidirectional/permutation mask); mask over
        the K keys (bool keep-mask or additive float), broadcast to (B, H, T, K). ``cache``:
        a :class:`~lmlab.layers.decoder_attention.LayerCache` (incremental decoding).
        ``query`` (B, T, D): XLNet's query stream (Yang et al. 2019, eq. 4, g): the queries
        come from it, the keys and values from ``x`` (the content stream h), with the same
        weights; its position i is x's position i. ``different`` (B, T, K) bool: query i
        and key j are in different segments (XLNet §2.5: adds (q_i + b)·s_ij)."""
        q, k, v = project_qkv(self.qkv, self.num_heads, x, cache)  # k, v: (B, H, t+T, d)
        if query is not None:  # W_q of the fused projection on g: (B, H, T, d)
            width = query.shape[-1]
            bias = self.qkv.bias[:width] if self.qkv.bias is not None else None
            q = split_heads(F.linear(query, self.qkv.weight[:width], bias), self.num_heads)
        if memory is not None and memory.shape[1]:
            memory_k, memory_v = self._memory_keys(memory)
            k, v = torch.cat([memory_k, k], dim=2), torch.cat([memory_v, v], dim=2)  # (B, H, K, d)
        keys = k.shape[2]
        r = self.position(sinusoids[:negative + keys].to(x.dtype))[None]  # W_R R: (1, N+K, D)
        r = split_heads(r, self.num_heads)  # (1, H, N+K, d)
        by_distance = (q + self.position_bias[:, None]) @ r.transpose(-2, -1)  # (B, H, T, N+K)
        # attend() scales q·k by 1/sqrt(d) but adds a bias as given: the paper scales all of A.
        bias = relative_gather(by_distance, keys - q.shape[2], negative)  # (B, H, T, K)
        if different is not None and self.segment_vectors is not None:
            by_segment = torch.einsum("bhtd,shd->bhts", q + self.segment_bias[:, None],
                                      self.segment_vectors)  # (B, H, T, 2): same, different
            bias = bias + torch.where(different[:, None], by_segment[..., 1:], by_segment[..., :1])
        bias = bias / math.sqrt(q.shape[-1])
        if mask is not None:
            bias = (bias + mask if mask.is_floating_point()
                    else bias.masked_fill(~mask, float("-inf")))
        y = attend(q + self.content_bias[:, None], k, v, bias, causal,
                   self.dropout if self.training else 0.0, self.use_reference)  # (B, H, T, d)
        return self.out(merge_heads(y))


def tie_global_biases(attentions: list[RelativeMultiHeadAttention]) -> None:
    """One u and one v for the whole stack (Dai et al. 2019 §3.3: "trainable parameters"
    shared across layers), as the first layer's."""
    first = attentions[0]
    for attention in attentions[1:]:
        attention.content_bias = first.content_bias
        attention.position_bias = first.position_bias
