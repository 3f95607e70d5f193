"""What every objective returns: ``(model, batch) -> LossOutput(loss, metrics)``."""

from __future__ import annotations

from typing import NamedTuple

import torch


class LossOutput(NamedTuple):
    loss: torch.Tensor  # scalar, differentiable
    metrics: dict  # plain floats/ints for logging: loss, tokens, accuracy, ...


def detach_memory(memory):
    """Cut the graph between truncated-BPTT segments, keeping the values."""
    if memory is None:
        return None
    if isinstance(memory, torch.Tensor):
        return memory.detach()
    return type(memory)(detach_memory(m) for m in memory)
