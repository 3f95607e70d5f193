"""Multi-layer LSTM encoder (Hochreiter & Schmidhuber 1997) as used for language modelling
by Zaremba et al. (2014): dropout only on non-recurrent connections (between layers and on
the output), state carried across truncated-BPTT segments through ``memory``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class LSTMConfig:
    name: Literal["lstm"] = "lstm"
    num_layers: int = 2
    dropout: float = 0.0
    """Dropout between layers and on the output (Zaremba et al. 2014, §3)."""

    def validate(self, path: str) -> None:
        if self.num_layers <= 0:
            raise ConfigError(f"{path}.num_layers: must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


class LSTMEncoder(nn.Module):
    recurrent = True
    left_to_right = True  # output t reads tokens <= t: right padding never reaches it
    memory_batch_dims = (1, 1)  # (h, c), each (L, B, D)

    def __init__(self, hidden_size: int, config: LSTMConfig):
        super().__init__()
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers=config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0,
                            batch_first=True)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_layers: bool = False) -> EncoderOutput:
        # Padding is not packed: LM batches are full windows of a token stream.
        hidden, state = self.lstm(x, memory)  # (B, T, D), ((L, B, D), (L, B, D))
        return EncoderOutput(self.dropout(hidden), state, None)


def build_lstm(hidden_size: int, config: LSTMConfig) -> LSTMEncoder:
    return LSTMEncoder(hidden_size, config)
