"""What every encoder returns: ``(x, attention_mask, memory=None) -> EncoderOutput``."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class EncoderOutput(NamedTuple):
    hidden: torch.Tensor  # (B, T, D)
    memory: Any = None  # recurrent state to carry into the next segment (LSTM: (h, c))
    layer_states: tuple[torch.Tensor, ...] | None = None  # per-layer (B, T, D), on request
