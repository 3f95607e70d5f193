"""Language-model head: hidden states -> vocabulary logits.

GPT-2: logits = h E^T (weights tied to the token embedding, no bias).
BERT (Devlin et al. 2019; HF ``BertLMPredictionHead``): a transform (dense, GELU,
LayerNorm) then the tied decoder with a bias. Press & Wolf (2017) motivate the tying.
``logits`` may be asked for a subset of positions only, which is how the MLM objective
avoids projecting unmasked positions onto the vocabulary (as fairseq does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmlab.layers.feed_forward import Activation, activation_fn
from lmlab.layers.linear_cross_entropy import linear_cross_entropy


@dataclass
class LMHeadConfig:
    tie_weights: bool = True
    transform: bool = False
    """BERT's dense + activation + LayerNorm before the decoder."""
    activation: Activation = "gelu"
    bias: bool = False
    layer_norm_eps: float = 1e-12


class LMHead(nn.Module):
    def __init__(self, hidden_size: int, vocab_size: int, config: LMHeadConfig,
                 tied_embedding: nn.Embedding | None, output_size: int | None = None):
        """``output_size``: the decoder's input width E (ALBERT's factorised embedding; the
        transform then maps H -> E, as ALBERT's MLM head does). Defaults to H."""
        super().__init__()
        output_size = output_size or hidden_size
        if output_size != hidden_size and not config.transform:
            raise ValueError("a decoder narrower than the hidden size needs lm_head.transform")
        self.transform = nn.Linear(hidden_size, output_size) if config.transform else None
        self.activation = activation_fn(config.activation)
        self.norm = (nn.LayerNorm(output_size, eps=config.layer_norm_eps)
                     if config.transform else None)
        self.decoder = nn.Linear(output_size, vocab_size, bias=config.bias)
        if config.tie_weights:
            if tied_embedding is None:
                raise ValueError("tie_weights needs the token embedding")
            self.decoder.weight = tied_embedding.weight

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.transform is not None:
            hidden = self.norm(self.activation(self.transform(hidden)))
        return hidden

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.features(hidden))  # (..., V)

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy against ``targets`` (-100 = ignore) without materialising
        all logits at once. hidden: (N, D), targets: (N,)."""
        return linear_cross_entropy(self.features(hidden), self.decoder.weight,
                                    self.decoder.bias, targets)
