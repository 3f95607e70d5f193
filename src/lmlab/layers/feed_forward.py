"""Position-wise feed-forward block (Vaswani et al. 2017, eq. 2) with a choice of activation."""

from __future__ import annotations

import warnings
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
        with warnings.catch_warnings():  # ffn_size = 0 (every neuron pruned): nothing to init
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            self.up = nn.Linear(hidden_size, ffn_size, bias=bias)
            self.down = nn.Linear(ffn_size, hidden_size, bias=bias)
        self.activation = activation_fn(activation)
        self.dropout = nn.Dropout(dropout)
        self.neuron_gate: torch.Tensor | None = None
        """(F,) gate on the hidden neurons (structured pruning's mask); not a parameter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.activation(self.up(x))  # (B, T, F)
        if self.neuron_gate is not None:
            hidden = hidden * self.neuron_gate.to(hidden.dtype)
        return self.dropout(self.down(hidden))  # (B, T, D)
