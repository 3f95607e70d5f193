"""Q-BERT's group-wise quantization and Hessian-aware mixed precision (Shen et al. 2020,
"Q-BERT: Hessian Based Ultra Low Precision Quantization of BERT", §3.1-3.2).

Group-wise quantization (§3.2): each weight matrix is cut into groups of rows (Q-BERT
groups by head and then sub-groups; 128 groups a layer works best, Table 4), and each group
gets its own uniform b-bit range [min, max]:

    Δ = (max - min) / (2^b - 1),   ŵ = min + Δ · ⌊(w - min) / Δ⌉,

so a group stores b bits a weight plus its min and max (2 fp32 values).

Mixed precision (§3.1): the encoder layers are ranked by their Hessian sensitivity Ω_i
(:mod:`lmlab.compression.quantization.hessian`); a layer with a larger Ω gets more bits.
With the bit choices b_1 < ... < b_k, the layers sorted by increasing Ω are split into k
runs of (nearly) equal length, the least sensitive run getting b_1 and the most sensitive
b_k (ties by depth). Embeddings take ``embedding_bits`` (8 in Q-BERT's tables); the task
head, biases and LayerNorm stay fp32.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.compression.matrices import FLOAT_BITS
from lmlab.errors import ConfigError

METHOD = "qbert"


def check_qbert(bits, embedding_bits, groups) -> None:
    if not isinstance(bits, list) or not bits or \
            any(isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 8 for b in bits):
        raise ConfigError(f"--set bits: bad value {bits!r}; expected a list of bit widths "
                          f"1..8, e.g. [4,8]")
    if isinstance(embedding_bits, bool) or not isinstance(embedding_bits, int) or \
            not 0 <= embedding_bits <= 8:
        raise ConfigError(f"--set embedding_bits: bad value {embedding_bits!r}; expected "
                          f"1..8, or 0 to keep the embeddings fp32")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ConfigError(f"--set groups: bad value {groups!r}; expected an integer >= 1")


def quantize_groups(weight: torch.Tensor, bits: int, groups: int) -> torch.Tensor:
    """``weight`` (R, C) with each of ``groups`` row groups (torch.tensor_split: sizes
    differ by at most one; at most R groups) on its own uniform b-bit grid of [min, max]."""
    pieces = []
    for group in torch.tensor_split(weight, min(groups, weight.shape[0]), dim=0):
        low, high = group.min(), group.max()
        step = (high - low) / (2 ** bits - 1)
        if float(step) == 0:  # a constant group is exact
            pieces.append(group.clone())
            continue
        pieces.append(low + step * torch.round((group - low) / step))
    return torch.cat(pieces, dim=0)


def group_bits(weight: torch.Tensor, bits: int, groups: int) -> int:
    """b bits a weight plus min and max (fp32) a group."""
    return weight.numel() * bits + min(groups, weight.shape[0]) * 2 * FLOAT_BITS


def assign_bits(omegas: list[float], choices: list[int]) -> list[int]:
    """Bits per layer: layers by increasing Ω split into len(choices) runs, the runs
    getting the sorted ``choices`` in order (more sensitive -> more bits)."""
    choices = sorted(choices)
    order = sorted(range(len(omegas)), key=lambda i: (omegas[i], i))
    bits = [0] * len(omegas)
    for rank, layer in enumerate(order):
        bits[layer] = choices[min(len(choices) - 1, rank * len(choices) // len(omegas))]
    return bits


def matrices_of(module: nn.Module) -> dict[str, torch.Tensor]:
    """The 2-D parameters of ``module`` by name (each tied tensor once)."""
    return {name: p for name, p in module.named_parameters() if p.dim() == 2}


def quantize_qbert(model: nn.Module, layers: list[nn.Module], layer_bits: list[int],
                   embedding: nn.Module | None, embedding_bits: int, groups: int) -> int:
    """Quantize in place the weight matrices of each of ``layers`` to its ``layer_bits``
    and those of ``embedding`` to ``embedding_bits`` (0 = keep), ``groups`` row groups a
    matrix; returns the size estimate in bits of the whole model."""
    chosen: dict[int, tuple[torch.Tensor, int]] = {}
    for module, bits in zip(layers, layer_bits):
        for weight in matrices_of(module).values():
            chosen[id(weight)] = (weight, bits)
    if embedding is not None and embedding_bits:
        for weight in matrices_of(embedding).values():
            chosen[id(weight)] = (weight, embedding_bits)
    with torch.no_grad():
        for weight, bits in chosen.values():
            weight.copy_(quantize_groups(weight, bits, groups))
    total = 0
    for parameter in {id(p): p for p in model.parameters()}.values():
        entry = chosen.get(id(parameter))
        total += parameter.numel() * FLOAT_BITS if entry is None else \
            group_bits(parameter, entry[1], groups)
    return total
