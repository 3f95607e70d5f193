"""Vision–language encoders, single stream and two streams (review §5.3, Table 8).

* Single stream — VL-BERT (Su et al. 2020, §3), UNITER (Chen et al. 2020, §3.1): the text
  tokens ``[CLS] w1 .. wT [SEP]`` and the visual tokens ``[IMG] v1 .. vN`` are one sequence
  through one transformer encoder (:mod:`lmlab.encoders.transformer`, bidirectional); a
  segment/type embedding (0 text, 1 vision) tells the modalities apart. Pooled output: the
  ``[CLS]`` state.
* Two streams — ViLBERT (Lu et al. 2019, §3.1, Fig. 2): text layers first (the text stream
  is deeper: BERT's), then ``num_co_layers`` blocks of one co-attention layer
  (:class:`~lmlab.multimodal.co_attention.CoAttentionLayer`) followed by one self-attention
  layer in each stream. Pooled output: h_[CLS] ⊙ h_[IMG] (ViLBERT's alignment input).
  LXMERT (Tan & Bansal 2019, §2.2) is the same shape with options: a language encoder
  (``num_layers``), an object-relationship encoder (``num_visual_layers``), cross-modality
  layers (``cross_layer: lxmert``, :mod:`~lmlab.multimodal.cross_modality`) and the text
  [CLS] as the cross-modality output (``pooling: cls``).
* Early fusion — B2T2 (Alberti et al. 2019, §3.2, eq. 3): no visual tokens in the sequence;
  E'(T, I, B, R) = E(T) + Σ_i R_i [M Φ(crop(I, b_i)) + π(b_i)]ᵀ, each region's embedding
  summed into the embeddings of the words that refer to it (R), then one BERT over the
  words (``fusion: early``). Our texts carry no word-box references (the VCR data's
  ``[1]`` tokens), and every caption / question is about the whole picture, so R links every
  text token to every region with weight 1/N: each word embedding gets the mean region
  embedding (a stated choice, not the paper's data). ``visual`` output is empty (B, 0, D),
  so masked region modelling does not apply (refused at config time).

Both take ``(input_ids (B, T), attention_mask (B, T), features (B, N, F))`` and return
:class:`MultimodalOutput`; ``features`` are the fixed cell features of
:class:`~lmlab.multimodal.visual.VisualEmbedding` (masked by the objectives when they
corrupt regions).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
from torch import nn

from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
from lmlab.errors import ConfigError
from lmlab.multimodal.co_attention import CoAttentionLayer
from lmlab.multimodal.cross_modality import CrossModalityLayer
from lmlab.multimodal.visual import VisualConfig, VisualEmbedding

TEXT, VISION = 0, 1  # type ids


class MultimodalOutput(NamedTuple):
    text: torch.Tensor  # (B, T, D)
    visual: torch.Tensor  # (B, 1 + N, D), row 0 = [IMG]
    pooled: torch.Tensor  # (B, D)


@dataclass
class MultimodalConfig:
    architecture: Literal["single_stream", "two_stream"] = "single_stream"
    vocab_size: int = 1000
    hidden_size: int = 128
    num_heads: int = 4
    ffn_size: int = 256
    num_layers: int = 2
    """single_stream: joint layers; two_stream: text-only layers before the co-attention."""
    num_co_layers: int = 1
    """two_stream: cross-modal blocks (``co_attention``: each + one self-attention layer per
    stream; ``lxmert``: LXMERT's cross-modality layers, N_X)."""
    cross_layer: Literal["co_attention", "lxmert"] = "co_attention"
    """two_stream: ViLBERT's co-attentional block, or LXMERT's cross-modality layer (shared
    bi-directional cross-attention, then self-attention and FFN per stream)."""
    num_visual_layers: int = 0
    """two_stream: vision-only self-attention layers before the cross-modal ones: LXMERT's
    object-relationship encoder (N_R), CBT's visual transformer."""
    pooling: Literal["product", "cls"] = "product"
    """two_stream: ViLBERT's h_CLS ⊙ h_IMG, or the text [CLS] state (LXMERT's
    cross-modality output)."""
    fusion: Literal["joint", "early"] = "joint"
    """single_stream: ``joint`` (text and visual tokens in one sequence: VL-BERT, UNITER,
    Unicoder-VL) or ``early`` (B2T2: region embeddings summed into the referring words'
    embeddings; no visual tokens)."""
    max_text_length: int = 32
    dropout: float = 0.1
    visual: VisualConfig = field(default_factory=VisualConfig)

    def validate(self, path: str = "model") -> None:
        if self.architecture not in ("single_stream", "two_stream"):
            raise ConfigError(f"{path}.architecture: one of single_stream, two_stream, got "
                              f"{self.architecture!r}")
        if self.cross_layer not in ("co_attention", "lxmert"):
            raise ConfigError(f"{path}.cross_layer: one of co_attention, lxmert, got "
                              f"{self.cross_layer!r}")
        if self.fusion not in ("joint", "early"):
            raise ConfigError(f"{path}.fusion: one of joint, early, got {self.fusion!r}")
        if self.fusion == "early" and self.architecture != "single_stream":
            raise ConfigError(f"{path}.fusion: early (B2T2) needs architecture: single_stream, "
                              f"got {self.architecture}")
        if self.pooling not in ("product", "cls"):
            raise ConfigError(f"{path}.pooling: one of product, cls, got {self.pooling!r}")
        if self.num_visual_layers < 0 or self.num_co_layers < 0:
            raise ConfigError(f"{path}.num_visual_layers / num_co_layers: must be >= 0")
        for name in ("vocab_size", "hidden_size", "num_heads", "ffn_size", "max_text_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{path}.{name}: must be > 0, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"{path}.num_heads: {self.num_heads} heads do not divide "
                              f"{path}.hidden_size={self.hidden_size}")
        self.visual.validate(f"{path}.visual")

    def encoder_config(self, num_layers: int) -> TransformerConfig:
        return TransformerConfig(num_layers=num_layers, num_heads=self.num_heads,
                                 ffn_size=self.ffn_size, norm="post", mask="bidirectional",
                                 dropout=self.dropout, attention_dropout=self.dropout)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MultimodalConfig":
        data = dict(data)
        visual = VisualConfig(**data.pop("visual", {}))
        return cls(**data, visual=visual)


class TextEmbedding(nn.Module):
    """BERT's input embedding (Devlin et al. 2019, §3): token + position + type, LN, dropout."""

    def __init__(self, config: MultimodalConfig):
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = nn.Embedding(config.max_text_length, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        for table in (self.tokens, self.positions):  # BERT's N(0, 0.02) initialisation
            nn.init.normal_(table.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor, types: nn.Embedding) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tokens(input_ids) + self.positions(positions) + types.weight[TEXT]
        return self.dropout(self.norm(x))  # (B, T, D)


class SingleStreamModel(nn.Module):
    def __init__(self, config: MultimodalConfig):
        super().__init__()
        self.config = config
        self.text_embedding = TextEmbedding(config)
        self.visual_embedding = VisualEmbedding(config.visual, config.hidden_size, config.dropout)
        self.types = nn.Embedding(2, config.hidden_size)  # segment/type: text, vision
        nn.init.normal_(self.types.weight, std=0.02)
        self.encoder = TransformerEncoder(config.hidden_size,
                                          config.encoder_config(config.num_layers))

    def forward(self, input_ids, attention_mask, features) -> MultimodalOutput:
        text = self.text_embedding(input_ids, self.types)  # (B, T, D)
        visual = self.visual_embedding(features) + self.types.weight[VISION]  # (B, 1+N, D)
        if self.config.fusion == "early":  # B2T2 eq. 3 with R = 1/N for every word
            references = attention_mask[..., None].to(text.dtype)  # (B, T, 1)
            text = text + references * visual[:, 1:].mean(1, keepdim=True)  # (B, T, D)
            hidden = self.encoder(text, attention_mask).hidden
            return MultimodalOutput(hidden, hidden[:, :0], hidden[:, 0])
        visual_mask = attention_mask.new_ones(visual.shape[:2])
        joint = torch.cat([text, visual], dim=1)  # (B, T+1+N, D)
        mask = torch.cat([attention_mask, visual_mask], dim=1)
        hidden = self.encoder(joint, mask).hidden
        length = input_ids.shape[1]
        return MultimodalOutput(hidden[:, :length], hidden[:, length:], hidden[:, 0])


class TwoStreamModel(nn.Module):
    def __init__(self, config: MultimodalConfig):
        super().__init__()
        self.config = config
        self.text_embedding = TextEmbedding(config)
        self.visual_embedding = VisualEmbedding(config.visual, config.hidden_size, config.dropout)
        self.types = nn.Embedding(2, config.hidden_size)
        nn.init.normal_(self.types.weight, std=0.02)
        self.text_encoder = TransformerEncoder(config.hidden_size,
                                               config.encoder_config(config.num_layers))
        if config.num_visual_layers:  # LXMERT's object-relationship encoder, CBT's visual one
            self.visual_encoder = TransformerEncoder(
                config.hidden_size, config.encoder_config(config.num_visual_layers))
        if config.cross_layer == "lxmert":
            self.cross_layers = nn.ModuleList(
                CrossModalityLayer(config.hidden_size, config.num_heads, config.encoder_config(1),
                                   config.dropout) for _ in range(config.num_co_layers))
            return
        self.co_layers = nn.ModuleList(
            CoAttentionLayer(config.hidden_size, config.num_heads, config.ffn_size,
                             config.dropout) for _ in range(config.num_co_layers))
        self.text_layers = nn.ModuleList(
            TransformerEncoder(config.hidden_size, config.encoder_config(1))
            for _ in range(config.num_co_layers))
        self.visual_layers = nn.ModuleList(
            TransformerEncoder(config.hidden_size, config.encoder_config(1))
            for _ in range(config.num_co_layers))

    def forward(self, input_ids, attention_mask, features) -> MultimodalOutput:
        text = self.text_embedding(input_ids, self.types)
        text = self.text_encoder(text, attention_mask).hidden  # (B, T, D)
        visual = self.visual_embedding(features) + self.types.weight[VISION]  # (B, 1+N, D)
        visual_mask = attention_mask.new_ones(visual.shape[:2])
        if self.config.num_visual_layers:
            visual = self.visual_encoder(visual, visual_mask).hidden
        if self.config.cross_layer == "lxmert":
            for layer in self.cross_layers:
                text, visual = layer(text, visual, attention_mask, visual_mask)
        else:
            for co_layer, text_layer, visual_layer in zip(self.co_layers, self.text_layers,
                                                          self.visual_layers):
                text, visual = co_layer(text, visual, attention_mask, visual_mask)
                text = text_layer(text, attention_mask).hidden
                visual = visual_layer(visual, visual_mask).hidden
        pooled = text[:, 0] if self.config.pooling == "cls" else text[:, 0] * visual[:, 0]
        return MultimodalOutput(text, visual, pooled)


def build_multimodal(config: MultimodalConfig) -> nn.Module:
    config.validate()
    return (SingleStreamModel if config.architecture == "single_stream" else TwoStreamModel)(config)
