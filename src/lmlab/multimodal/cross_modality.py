"""LXMERT's cross-modality layer (Tan & Bansal 2019, §2.2 "Cross-Modality Encoder", Fig. 1).

Each of the N_X layers is, per stream: one *bi-directional* cross-attention sub-layer (the
language stream's queries read the vision stream's keys/values and the other way round,
with one set of weights for both directions, as LXMERT's ``LXRTXLayer.visual_attention``),
then a self-attention sub-layer and a feed-forward sub-layer; a residual connection and a
LayerNorm after each sub-layer (eqs. in §2.2):

    h_i^k   = CrossAtt_{L->R}(h_i^{k-1}, {v^{k-1}})        v_j^k   = CrossAtt_{R->L}(v_j^{k-1}, {h^{k-1}})
    h~_i^k  = SelfAtt_{L->L}(h_i^k, {h^k})                 v~_j^k  = SelfAtt_{R->R}(v_j^k, {v^k})
    then FFN on each.

Unlike ViLBERT's co-attention layer (:mod:`lmlab.multimodal.co_attention`) there is no
feed-forward between the cross- and the self-attention, and the cross-attention is shared.
The self-attention + FFN half is one post-LN layer of :mod:`lmlab.encoders.transformer`.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
from lmlab.layers.decoder_attention import CrossAttention


class CrossModalityLayer(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, layer_config: TransformerConfig,
                 dropout: float = 0.1):
        super().__init__()
        self.cross = CrossAttention(hidden_size, num_heads, dropout)  # both directions
        self.text_norm = nn.LayerNorm(hidden_size)
        self.visual_norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.text_layer = TransformerEncoder(hidden_size, layer_config)  # self-att + FFN
        self.visual_layer = TransformerEncoder(hidden_size, layer_config)

    def forward(self, text: torch.Tensor, visual: torch.Tensor, text_mask: torch.Tensor,
                visual_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """text (B, T, D), visual (B, N, D), masks (B, T) / (B, N), 1 = real -> same shapes.
        Both cross-attentions read the layer's inputs (the streams update together)."""
        text_keep = text_mask.bool()[:, None, None, :]  # (B, 1, 1, T)
        visual_keep = visual_mask.bool()[:, None, None, :]  # (B, 1, 1, N)
        crossed_text = self.text_norm(text + self.dropout(self.cross(text, visual, visual_keep)))
        crossed_visual = self.visual_norm(
            visual + self.dropout(self.cross(visual, text, text_keep)))
        return (self.text_layer(crossed_text, text_mask).hidden,
                self.visual_layer(crossed_visual, visual_mask).hidden)
