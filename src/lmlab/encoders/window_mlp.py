"""Bengio et al. (2003) neural probabilistic LM as an encoder: a fixed window of the n-1
previous word features, concatenated, through one tanh layer.

Bengio et al. 2003, eq. (1)/§2: ``y = b + W x + U tanh(d + H x)`` with ``x`` the
concatenation of the n-1 word feature vectors ``C(w_{t-1}) … C(w_{t-n+1})`` and
``P(w_t | context) = softmax(y)``.

Composition (DESIGN §1): the embedding gives ``C(w)``; this encoder computes
``a = tanh(d + H x)``; the LM head gives ``b + U a``. The optional *direct connections*
``W x`` are a linear map of the same ``x`` to the logits, so they are folded into the head:
with ``direct: true`` the encoder returns the features ``[a ; x]`` (width
``hidden_units + (n-1)·D``) and the head's decoder ``[U  W]`` (with bias ``b``) computes
exactly ``b + U a + W x``. The encoder announces that width as ``output_size``;
``registry.build_model`` sizes the head with it (so the head cannot be tied to the
embedding then).

The window reaches back across truncated segments: the last n-2 input features are
carried in ``memory`` (like a recurrent state, so evaluation reads the stream once with
full context); positions before the start of the stream see zero vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class WindowMLPConfig:
    name: Literal["window_mlp"] = "window_mlp"
    order: int = 5
    """n of the n-gram: the window holds the n-1 previous words (Bengio et al.: n = 5)."""
    hidden_units: int = 0
    """h, the tanh layer's width; 0 = the embedding width D."""
    direct: bool = False
    """Direct input-to-output connections W x (Bengio et al. 2003, eq. 1)."""
    dropout: float = 0.0
    """Dropout on the tanh features (not in the paper; 0 reproduces it)."""

    def validate(self, path: str) -> None:
        if self.order < 2:
            raise ConfigError(f"{path}.order: must be >= 2 (a window of n-1 >= 1 words)")
        if self.hidden_units < 0:
            raise ConfigError(f"{path}.hidden_units: must be >= 0 (0 = embedding width)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


class WindowMLPEncoder(nn.Module):
    recurrent = True  # carries the last n-2 features across segments
    memory_batch_dims = 0  # features (B, n-2, D)

    def __init__(self, hidden_size: int, config: WindowMLPConfig):
        super().__init__()
        self.context = config.order - 1  # n-1 words in the window
        units = config.hidden_units or hidden_size
        self.hidden = nn.Linear(self.context * hidden_size, units)  # H, d
        self.dropout = nn.Dropout(config.dropout)
        self.direct = config.direct
        self.output_size = units + (self.context * hidden_size if config.direct else 0)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory: torch.Tensor | None = None, return_layers: bool = False) -> EncoderOutput:
        batch, length, width = x.shape
        keep = self.context - 1  # features carried into the next segment
        if memory is None:
            memory = x.new_zeros(batch, keep, width)  # no words before the stream
        padded = torch.cat([memory, x], dim=1)  # (B, n-2+T, D)
        # Window for position t: features t-n+2 … t (oldest first), i.e. w_{t-n+2..t}.
        windows = padded.unfold(1, self.context, 1)  # (B, T, D, n-1)
        windows = windows.transpose(2, 3).reshape(batch, length, self.context * width)  # (B, T, (n-1)D)
        features = self.dropout(torch.tanh(self.hidden(windows)))  # (B, T, h)
        if self.direct:
            features = torch.cat([features, windows], dim=-1)  # (B, T, h + (n-1)D)
        new_memory = padded[:, padded.shape[1] - keep:] if keep else padded[:, :0]
        return EncoderOutput(features, new_memory, None)


def build_window_mlp(hidden_size: int, config: WindowMLPConfig) -> WindowMLPEncoder:
    return WindowMLPEncoder(hidden_size, config)
