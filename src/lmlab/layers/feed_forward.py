"""Position-wise feed-forward block (Vaswani et al. 2017, eq. 2) with a choice of activation."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Activation = Literal["gelu", "gelu_tanh", "relu"]


def activation_fn(name: Activation):
    if name == "gelu":  # BERT: exact erf GELU (Hendrycks & Gimpel 2016)
        return F.gelu
    if name == "gelu_tanh":  # GPT-2's "gelu_new": the tanh approximation
        return lambda x: F.gelu(x, approximate="tanh")
    return F.relu


class FeedForward(nn.Module):
    def __init__(self, hidden_size: int, ffn_size: int, activation: Activation, dropout: float,
                 bias: bool = True):
        super().__init__()
        self.up = nn.Linear(hidden_size, ffn_size, bias=bias)
        self.down = nn.Linear(ffn_size, hidden_size, bias=bias)
        self.activation = activation_fn(activation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(self.activation(self.up(x))))  # (B, T, D)
