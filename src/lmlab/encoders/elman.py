"""Elman recurrent network LM (Mikolov et al. 2010), exactly the review's eqs. 17–19:

    x(t)   = [w(t) ; s(t-1)]                    (17)
    s_j(t) = f( sum_i x_i(t) u_ji )              (18)   f = sigmoid
    y_k(t) = g( sum_j s_j(t) v_kj )              (19)   g = softmax

With ``w(t)`` one-hot, ``U x(t)`` splits into the column of U for the word — the token
embedding ``e(t)`` — plus ``W s(t-1)``, so (18) is ``s(t) = sigmoid(e(t) + W s(t-1))``
(no bias, as in the equations; ``bias: true`` adds one). (19) is the LM head
(``lm_head: {tie_weights: false, bias: false}`` for the exact form). Truncated BPTT:
``s`` is carried to the next segment through ``memory`` and detached there by the
objective. ``s(0)`` is ``initial_state`` in every unit (Mikolov's rnnlm toolkit resets
the hidden layer to 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class ElmanConfig:
    name: Literal["elman"] = "elman"
    bias: bool = False
    """A bias inside the sigmoid (not in eqs. 17–19)."""
    initial_state: float = 1.0
    """s(0) in every unit."""
    dropout: float = 0.0
    """Dropout on s(t) before the output layer (not in the paper)."""

    def validate(self, path: str) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


class ElmanEncoder(nn.Module):
    recurrent = True
    memory_batch_dims = 0  # state (B, D)

    def __init__(self, hidden_size: int, config: ElmanConfig):
        super().__init__()
        self.recurrence = nn.Linear(hidden_size, hidden_size, bias=config.bias)  # W
        self.initial_state = config.initial_state
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory: torch.Tensor | None = None, return_layers: bool = False) -> EncoderOutput:
        batch, length, width = x.shape
        state = memory if memory is not None else x.new_full((batch, width), self.initial_state)
        states = []
        for t in range(length):  # eq. 18 step by step; e(t) = U w(t) is x[:, t]
            state = torch.sigmoid(x[:, t] + self.recurrence(state))  # (B, D)
            states.append(state)
        hidden = torch.stack(states, dim=1)  # (B, T, D)
        return EncoderOutput(self.dropout(hidden), state, None)


def build_elman(hidden_size: int, config: ElmanConfig) -> ElmanEncoder:
    return ElmanEncoder(hidden_size, config)
