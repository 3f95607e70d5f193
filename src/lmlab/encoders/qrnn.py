"""Quasi-recurrent neural network encoder (Bradbury, Merity, Xiong & Socher 2017, "Quasi-
Recurrent Neural Networks", ICLR), the language model of MultiFiT (Eisenschlos et al. 2019,
"MultiFiT: Efficient Multi-lingual Language Model Fine-tuning", §3.1: a 4-layer QRNN).

Each layer is a masked (causal) convolution of width k over time followed by fo-pooling:

* eq. 1: Z = tanh(W_z * X), F = σ(W_f * X), O = σ(W_o * X), where ``*`` is a convolution
  that reads x_{t-k+1} .. x_t only (for k = 2, eq. 2: z_t = tanh(W_z^1 x_{t-1} + W_z^2 x_t));
  here one linear map of the concatenated window [x_{t-k+1}; ..; x_t] gives all three gates;
* eq. 4 (fo-pooling): c_t = f_t ⊙ c_{t-1} + (1 − f_t) ⊙ z_t,  h_t = o_t ⊙ c_t.

The convolutions of a whole sequence run as one matrix product; only the element-wise
pooling is a loop over time, in plain PyTorch: **no fused CUDA kernel is used** (the
paper's and MultiFiT's speed comes from one), so this QRNN is the reference path, exact on
CPU and slower than cuDNN's LSTM on a GPU.

Layer widths follow MultiFiT / AWD-LSTM: every layer has ``hidden_size`` units except the
last, which has the model width so the LM head can tie its weights to the embedding.
Dropout is applied between layers and on the output (zoneout and weight dropout, which
the paper's regularisation adds, are not built).

State carried across truncated-BPTT segments (``memory``): for every layer its last cell
c_{T-1} (B, H_l) and its last k − 1 inputs (B, k − 1, D_l), as one flat tuple
``(c_0 .. c_{L-1}, window_0 .. window_{L-1})`` (batch on dim 0 of each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class QRNNConfig:
    name: Literal["qrnn"] = "qrnn"
    num_layers: int = 4
    """QRNN layers (MultiFiT: 4)."""
    hidden_size: int = 0
    """Units of every layer but the last (MultiFiT: 1550); 0 = the model width. The last
    layer has the model width (tied LM head)."""
    window: int = 2
    """Convolution width k over time (Bradbury et al. 2017 use k = 2 for language modelling)."""
    dropout: float = 0.0
    """Dropout between layers and on the output."""

    def validate(self, path: str) -> None:
        if self.num_layers <= 0:
            raise ConfigError(f"{path}.num_layers: must be > 0")
        if self.hidden_size < 0:
            raise ConfigError(f"{path}.hidden_size: must be >= 0 (0 = the model width)")
        if self.window < 1:
            raise ConfigError(f"{path}.window: must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


def fo_pool(z: torch.Tensor, f: torch.Tensor, o: torch.Tensor,
            c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bradbury et al. eq. 4 over time. z, f, o: (B, T, H); c: (B, H) the previous cell.
    Returns h (B, T, H) and the last cell (B, H)."""
    cells = []
    for t in range(z.shape[1]):
        c = f[:, t] * c + (1.0 - f[:, t]) * z[:, t]  # (B, H)
        cells.append(c)
    return o * torch.stack(cells, dim=1), c  # h_t = o_t ⊙ c_t


class QRNNLayer(nn.Module):
    def __init__(self, input_size: int, output_size: int, window: int):
        super().__init__()
        self.window, self.output_size = window, output_size
        self.gates = nn.Linear(window * input_size, 3 * output_size)  # W_z, W_f, W_o

    def forward(self, x: torch.Tensor, cell: torch.Tensor | None,
                past: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, T, D); cell: (B, H) or None (zeros); past: (B, k-1, D), the inputs before
        x (None: zeros, the masked convolution's left padding)."""
        batch, length, width = x.shape
        if past is None:
            past = x.new_zeros(batch, self.window - 1, width)
        padded = torch.cat([past.to(x.dtype), x], dim=1)  # (B, k-1+T, D)
        # window j of position t is x_{t-k+1+j}: [x_{t-k+1}; ..; x_t]
        windows = torch.cat([padded[:, j:j + length] for j in range(self.window)], dim=-1)
        z, f, o = self.gates(windows).float().chunk(3, dim=-1)  # 3 x (B, T, H)
        if cell is None:
            cell = z.new_zeros(batch, self.output_size)
        h, cell = fo_pool(torch.tanh(z), torch.sigmoid(f), torch.sigmoid(o), cell.float())
        return h, cell, padded[:, padded.shape[1] - (self.window - 1):]  # (B, k-1, D)


class QRNNEncoder(nn.Module):
    recurrent = True
    left_to_right = True  # output t reads tokens <= t: right padding never reaches it

    def __init__(self, hidden_size: int, config: QRNNConfig):
        super().__init__()
        inner = config.hidden_size or hidden_size
        sizes = [hidden_size] + [inner] * (config.num_layers - 1) + [hidden_size]
        self.layers = nn.ModuleList(QRNNLayer(sizes[i], sizes[i + 1], config.window)
                                    for i in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)
        self.memory_batch_dims = (0,) * (2 * config.num_layers)  # see the module docstring

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory: tuple[torch.Tensor, ...] | None = None,
                return_layers: bool = False) -> EncoderOutput:
        # Causal: right padding never reaches a real position, so attention_mask is unused.
        count = len(self.layers)
        cells, pasts = (memory[:count], memory[count:]) if memory else ([None] * count,) * 2
        new_cells, new_pasts, states = [], [], []
        for index, layer in enumerate(self.layers):
            h, cell, past = layer(x, cells[index], pasts[index])  # (B, T, H_l)
            new_cells.append(cell)
            new_pasts.append(past)
            x = self.dropout(h)
            states.append(x)
        layers = tuple(states) if return_layers else None
        return EncoderOutput(x, tuple(new_cells + new_pasts), layers)


def build_qrnn(hidden_size: int, config: QRNNConfig) -> QRNNEncoder:
    return QRNNEncoder(hidden_size, config)
