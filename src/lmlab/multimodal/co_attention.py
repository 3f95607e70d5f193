"""ViLBERT's co-attentional transformer layer (Lu et al. 2019, §3.1, Fig. 2b).

Each stream's queries attend to the *other* stream's keys and values: the text stream's
output at word i is LN(h_i + Attn(Q = h_i, K = V = visual states)), so in this layer a word
reads only image keys (no text-to-text attention) and a region reads only word keys; then
each stream has its own residual feed-forward sub-block (post-LN, as BERT). The two
attentions read the layer's inputs, so the streams update simultaneously.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.layers.decoder_attention import CrossAttention
from lmlab.layers.feed_forward import FeedForward


class _StreamHalf(nn.Module):
    """One stream's half: cross-attention to the other stream, then the feed-forward."""

    def __init__(self, hidden_size: int, num_heads: int, ffn_size: int, dropout: float):
        super().__init__()
        self.attention = CrossAttention(hidden_size, num_heads, dropout)
        self.attention_norm = nn.LayerNorm(hidden_size)
        self.ffn = FeedForward(hidden_size, ffn_size, "gelu", dropout)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, other, other_mask):
        """x: (B, T, D) queries; other: (B, S, D) keys/values; other_mask: (B, S)."""
        keep = other_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        x = self.attention_norm(x + self.dropout(self.attention(x, other, keep)))
        return self.ffn_norm(x + self.ffn(x))


class CoAttentionLayer(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, ffn_size: int, dropout: float = 0.1):
        super().__init__()
        self.text = _StreamHalf(hidden_size, num_heads, ffn_size, dropout)
        self.visual = _StreamHalf(hidden_size, num_heads, ffn_size, dropout)

    def forward(self, text: torch.Tensor, visual: torch.Tensor, text_mask: torch.Tensor,
                visual_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """text (B, T, D), visual (B, N, D), masks (B, T) / (B, N) with 1 = real ->
        (text (B, T, D), visual (B, N, D))."""
        return (self.text(text, visual, visual_mask),
                self.visual(visual, text, text_mask))
