"""The weight matrices a compression method acts on, and their size on disk as bits."""

from __future__ import annotations

from torch import nn

FLOAT_BITS = 32  # an fp32 parameter


def weight_matrices(model: nn.Module) -> dict:
    """Every 2-D parameter (nn.Linear and nn.Embedding weights), by name, each tied tensor
    once. Biases and LayerNorm scales (1-D) stay fp32: they are few and sensitive."""
    return {name: parameter for name, parameter in model.named_parameters()
            if parameter.dim() == 2}


def parameter_counts(model: nn.Module) -> dict:
    """{"params": every parameter, "nonzero_params": those that are not exactly 0}."""
    params = list(model.parameters())
    return {"params": sum(p.numel() for p in params),
            "nonzero_params": sum(int((p != 0).sum()) for p in params)}
