"""Transformer decoder (Vaswani et al. 2017 §3.1): causal self-attention over the target
prefix, cross-attention to the encoder output, feed-forward; the decoder half of the
encoder–decoder models of MASS, BART and T5.

* ``norm: post`` (Vaswani, MASS, BART): x = LN(x + Sub(x)) after each of the three blocks.
* ``norm: pre`` (T5): x = x + Sub(LN(x)), with a final norm after the last layer.
* ``norm_type: rms`` and ``relative_buckets`` are T5's RMSNorm and relative position
  buckets (Raffel et al. 2020 §2.1); the causal buckets see only offsets <= 0.
* ``embedding`` says how the decoder's input embedding relates to the encoder's:
  ``shared`` (one embedding module: tokens, positions, norm), ``shared_tokens`` (one token
  table, own positions and norm — BART, T5) or ``separate``.

Incremental decoding keeps a :class:`KeyValueCache`: each step projects only its new
tokens, appends their keys/values, and reuses the encoder output's projected keys/values,
so step-by-step decoding computes what one full pass computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError
from lmlab.layers.attention import MultiHeadAttention
from lmlab.layers.decoder_attention import CrossAttention, KeyValueCache, LayerCache
from lmlab.layers.feed_forward import Activation, FeedForward
from lmlab.layers.norms import NormKind, build_norm
from lmlab.layers.relative_position import RelativePositionBias


@dataclass
class TransformerDecoderConfig:
    name: Literal["transformer"] = "transformer"
    num_layers: int = 2
    num_heads: int = 2
    ffn_size: int = 512
    norm: Literal["pre", "post"] = "post"
    norm_type: NormKind = "layer"
    """LayerNorm (MASS, BART) or RMSNorm (T5)."""
    activation: Activation = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    final_norm: bool = True
    """A norm after the last layer (pre-LN only)."""
    relative_buckets: int = 0
    """T5 relative position buckets of the self-attention (32 in T5); 0 = none."""
    relative_max_distance: int = 128
    bias: bool = True
    """Biases in the attention and feed-forward projections (T5 has none)."""
    embedding: Literal["shared", "shared_tokens", "separate"] = "shared_tokens"
    """The decoder's input embedding: the encoder's module (``shared``), its own positions
    and norm over the encoder's token table (``shared_tokens``), or its own (``separate``).
    The output projection is tied to the decoder's token table when model.lm_head ties."""

    def validate(self, path: str) -> None:
        for name in ("num_layers", "num_heads", "ffn_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{path}.{name}: must be > 0, got {getattr(self, name)}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{path}.{name}: must be in [0, 1)")
        if self.relative_buckets < 0 or self.relative_buckets == 1:
            raise ConfigError(f"{path}.relative_buckets: 0 (none) or >= 2, got {self.relative_buckets}")
        if self.relative_max_distance < 2:
            raise ConfigError(f"{path}.relative_max_distance: must be >= 2")

    def check_compatible(self, embedding, path: str) -> None:
        if embedding.hidden_size % self.num_heads:
            raise ConfigError(f"{path}.num_heads: {self.num_heads} heads do not divide "
                              f"model.embedding.hidden_size={embedding.hidden_size}")


class DecoderLayer(nn.Module):
    def __init__(self, hidden_size: int, config: TransformerDecoderConfig):
        super().__init__()
        self.pre_norm = config.norm == "pre"
        self.self_attention = MultiHeadAttention(hidden_size, config.num_heads,
                                                 config.attention_dropout, config.bias)
        self.self_attention_norm = build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
        self.cross_attention = CrossAttention(hidden_size, config.num_heads,
                                              config.attention_dropout, config.bias)
        self.cross_attention_norm = build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
        self.ffn = FeedForward(hidden_size, config.ffn_size, config.activation, config.dropout,
                               config.bias)
        self.ffn_norm = build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
                self_bias: torch.Tensor | None, cache: LayerCache | None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.self_attention(self.self_attention_norm(x), self_bias,
                                                     True, cache))
            x = x + self.dropout(self.cross_attention(self.cross_attention_norm(x), memory,
                                                      memory_mask, cache))
            return x + self.ffn(self.ffn_norm(x))
        x = self.self_attention_norm(x + self.dropout(
            self.self_attention(x, self_bias, True, cache)))
        x = self.cross_attention_norm(x + self.dropout(
            self.cross_attention(x, memory, memory_mask, cache)))
        return self.ffn_norm(x + self.ffn(x))


class TransformerDecoder(nn.Module):
    def __init__(self, hidden_size: int, config: TransformerDecoderConfig):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(DecoderLayer(hidden_size, config)
                                    for _ in range(config.num_layers))
        self.final_norm = (build_norm(config.norm_type, hidden_size, config.layer_norm_eps)
                           if config.norm == "pre" and config.final_norm else None)
        self.relative_bias = (RelativePositionBias(config.relative_buckets,
                                                   config.relative_max_distance,
                                                   config.num_heads, bidirectional=False)
                              if config.relative_buckets else None)

    def new_cache(self) -> KeyValueCache:
        return KeyValueCache(len(self.layers))

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor | None = None, cache: KeyValueCache | None = None,
                return_layers: bool = False) -> EncoderOutput:
        """x: (B, T, D) embedded target positions (after the ``cache.length`` cached ones);
        memory: (B, S, D) encoder output; memory_mask: (B, S), 1 = real source token."""
        past = cache.length if cache is not None else 0
        length = x.shape[1]
        keep = None if memory_mask is None else memory_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        self_bias = (self.relative_bias(length, past + length, past)  # (1, H, T, t+T)
                     if self.relative_bias is not None else None)
        states = []
        for index, layer in enumerate(self.layers):
            x = layer(x, memory, keep, self_bias,
                      cache.layers[index] if cache is not None else None)
            if return_layers:
                states.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return EncoderOutput(x, None, tuple(states) if return_layers else None)


def build_transformer_decoder(hidden_size: int,
                              config: TransformerDecoderConfig) -> TransformerDecoder:
    return TransformerDecoder(hidden_size, config)
