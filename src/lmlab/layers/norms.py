"""Normalisation layers by name: LayerNorm (Ba et al. 2016) or RMSNorm (Zhang & Sennrich
2019), the scale-only norm T5 uses (Raffel et al. 2020 §2.1: "a simplified version of layer
normalization where the activations are only rescaled and no additive bias is applied")."""

from __future__ import annotations

from typing import Literal

from torch import nn

NormKind = Literal["layer", "rms"]


def build_norm(kind: NormKind, size: int, eps: float) -> nn.Module:
    if kind == "rms":
        return nn.RMSNorm(size, eps=eps)
    return nn.LayerNorm(size, eps=eps)
