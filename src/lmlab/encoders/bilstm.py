"""Bidirectional LSTM language-model encoder: a forward and a backward LSTM stack with their
own weights, read by ELMo's biLM (Peters et al. 2018, §3.1 eq. 1–2) and context2vec
(Melamud et al. 2016, §3.1).

Unlike ``nn.LSTM(bidirectional=True)`` the two directions stay separate to the top, as a
biLM needs them: the forward state at t has read tokens 0..t and predicts t+1; the backward
state at t has read T-1..t and predicts t-1. Each layer may project its cells to the model
width (LSTMP, Sak et al. 2014; ELMo: 4096 cells -> 512) and add a residual connection from
its input (ELMo's "residual connection from the first to second layer", §3.1 / bilm-tf).

The backward stack reads each row reversed *within its length* (right padding stays at the
end), so padding never reaches a real token's backward state.

Output: ``hidden`` (B, T, 2D) = [forward top ; backward top]; ``layer_states`` (on request)
the 2L+1 representations ELMo mixes (eq. 1): layer 0 = [x ; x], layer j = [h→_j ; h←_j].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class BiLSTMConfig:
    name: Literal["bilstm"] = "bilstm"
    num_layers: int = 2
    cell_size: int = 0
    """LSTM cells per layer and direction; 0 = the model width. A different size projects
    the cells back to the model width (LSTMP, ``nn.LSTM(proj_size=...)``)."""
    residual: bool = True
    """Add each layer's input to its output from the second layer on (ELMo)."""
    dropout: float = 0.0
    """Dropout on each layer's output (between layers and on the top)."""

    def validate(self, path: str) -> None:
        if self.num_layers <= 0:
            raise ConfigError(f"{path}.num_layers: must be > 0")
        if self.cell_size < 0:
            raise ConfigError(f"{path}.cell_size: must be >= 0 (0 = the model width)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row's first ``lengths[b]`` positions reversed, the padding left in place.
    Its own inverse. x: (B, T, ...), lengths: (B,)."""
    places = torch.arange(x.shape[1], device=x.device)  # (T,)
    flipped = lengths[:, None] - 1 - places  # (B, T)
    index = torch.where(flipped >= 0, flipped, places)  # padding maps to itself
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def _stack(width: int, config: BiLSTMConfig) -> nn.ModuleList:
    cells = config.cell_size or width
    projection = width if cells != width else 0
    return nn.ModuleList(nn.LSTM(width, cells, proj_size=projection, batch_first=True)
                         for _ in range(config.num_layers))


class BiLSTMEncoder(nn.Module):
    recurrent = False  # each block is read on its own: the backward LM cannot carry state

    def __init__(self, hidden_size: int, config: BiLSTMConfig):
        super().__init__()
        self.config = config
        self.output_size = 2 * hidden_size  # [forward ; backward], what heads read
        self.lm_input_size = hidden_size  # each direction predicts through one shared softmax
        self.forward_layers = _stack(hidden_size, config)
        self.backward_layers = _stack(hidden_size, config)
        self.dropout = nn.Dropout(config.dropout)

    def _direction(self, layers: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        states, inputs = [], x
        for index, lstm in enumerate(layers):
            output, _ = lstm(inputs)  # (B, T, D)
            if self.config.residual and index > 0:
                output = output + inputs
            inputs = self.dropout(output)
            states.append(inputs)
        return states  # L x (B, T, D)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory=None, return_layers: bool = False) -> EncoderOutput:
        if memory is not None:
            raise ValueError("the bilstm encoder carries no memory across segments "
                             "(its backward LM reads each block from its end)")
        batch, length, _ = x.shape
        lengths = (attention_mask.sum(1).long() if attention_mask is not None
                   else torch.full((batch,), length, device=x.device))  # (B,)
        forward_states = self._direction(self.forward_layers, x)
        backward_states = [reverse_padded(state, lengths) for state in
                           self._direction(self.backward_layers, reverse_padded(x, lengths))]
        hidden = torch.cat([forward_states[-1], backward_states[-1]], dim=-1)  # (B, T, 2D)
        layers = None
        if return_layers:
            layers = (torch.cat([x, x], dim=-1),) + tuple(
                torch.cat(pair, dim=-1) for pair in zip(forward_states, backward_states))
        return EncoderOutput(hidden, None, layers)


def split_directions(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(forward, backward) halves, each (B, T, D), of a bilstm output (B, T, 2D)."""
    forward, backward = hidden.chunk(2, dim=-1)
    return forward, backward


def build_bilstm(hidden_size: int, config: BiLSTMConfig) -> BiLSTMEncoder:
    return BiLSTMEncoder(hidden_size, config)
