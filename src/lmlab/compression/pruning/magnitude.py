"""Magnitude pruning of weight matrices to a target sparsity (Han, Pool, Tran & Dally 2015,
"Learning both Weights and Connections for Efficient Neural Networks", §3: remove the
connections whose |w| is below a threshold; Gordon, Duh & Andrews 2020, "Compressing
BERT", §3: the same on BERT, the baseline issue 20 asks for).

Two scopes: ``matrix`` prunes the floor(S * n_i) smallest |w| of each weight matrix
separately (each matrix ends at sparsity S), ``global`` the floor(S * sum n_i) smallest
|w| of all weight matrices together (one threshold, so matrices of small weights lose
more; Gordon et al. prune globally). Ties at the threshold are broken by position (a
stable sort), so exactly that many weights become 0. Biases and LayerNorm stay.

The masks are returned (1 = kept) and saved beside the run; :func:`keep_pruned` multiplies
each pruned matrix's gradient by its mask, so the zeros stay zero while the model is
fine-tuned (Han et al. §3.2 retrain the remaining connections only): with a zero
gradient, SGD and Adam (moments stay 0) leave the weight at 0, and decoupled weight decay
scales 0 to 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmlab.compression.matrices import FLOAT_BITS, weight_matrices
from lmlab.compression.method import RETRAIN, Compressed, Method, Source, check_retrain
from lmlab.errors import ConfigError

METHOD = "magnitude"
SCOPES = ("global", "matrix")


def check_sparsity(sparsity, scope: str) -> None:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or \
            not 0 <= sparsity < 1:
        raise ConfigError(f"--sparsity: bad value {sparsity!r}; expected a share of the "
                          f"weights to remove, 0 <= S < 1")
    if scope not in SCOPES:
        raise ConfigError(f"--scope: bad value {scope!r}; expected one of {', '.join(SCOPES)}")


def _keep_mask(magnitudes: torch.Tensor, removed: int) -> torch.Tensor:
    """(n,) bool: False at the ``removed`` smallest of ``magnitudes`` (n,)."""
    mask = torch.ones_like(magnitudes, dtype=torch.bool)
    mask[torch.argsort(magnitudes, stable=True)[:removed]] = False
    return mask


def magnitude_masks(matrices: dict, sparsity: float, scope: str) -> dict:
    """{name: bool mask of the matrix's shape, True = kept}."""
    check_sparsity(sparsity, scope)
    if scope == "matrix":
        return {name: _keep_mask(w.detach().abs().flatten(),
                                 math.floor(sparsity * w.numel())).view(w.shape)
                for name, w in matrices.items()}
    flat = torch.cat([w.detach().abs().flatten() for w in matrices.values()])  # (sum n_i,)
    keep = _keep_mask(flat, math.floor(sparsity * flat.numel()))
    pieces = keep.split([w.numel() for w in matrices.values()])
    return {name: piece.view(w.shape) for (name, w), piece in zip(matrices.items(), pieces)}


def prune_magnitude(model: nn.Module, sparsity: float, scope: str) -> dict:
    """Zero the smallest weights of ``model``'s weight matrices in place; returns the
    masks ({name: bool tensor, True = kept})."""
    matrices = weight_matrices(model)
    masks = magnitude_masks(matrices, sparsity, scope)
    with torch.no_grad():
        for name, weight in matrices.items():
            weight.mul_(masks[name].to(weight.dtype))
    return masks


def keep_pruned(model: nn.Module, masks: dict) -> list:
    """Gradient hooks that keep the pruned weights at 0 during fine-tuning; returns the
    hook handles (``handle.remove()`` lifts them)."""
    parameters = dict(model.named_parameters())
    return [parameters[name].register_hook(lambda grad, m=mask: grad * m.to(grad.dtype))
            for name, mask in masks.items()]


def sparse_bits(model: nn.Module, masks: dict) -> int:
    """Size estimate with each pruned matrix as a bitmap (1 bit a position) plus its kept
    weights in fp32; every other parameter 32 bits."""
    pruned = {id(p): masks[name] for name, p in model.named_parameters() if name in masks}
    total = 0
    for parameter in {id(p): p for p in model.parameters()}.values():
        mask = pruned.get(id(parameter))
        total += parameter.numel() * FLOAT_BITS if mask is None else \
            mask.numel() + int(mask.sum()) * FLOAT_BITS
    return total


MASKS_FILE = "masks.safetensors"


def _compress(source: Source, settings: dict) -> Compressed:
    masks = prune_magnitude(source.model, settings["sparsity"], settings["scope"])
    return Compressed(source.model, source.config, sparse_bits(source.model, masks),
                      files={MASKS_FILE: {name: mask.to(torch.uint8)
                                          for name, mask in masks.items()}})


MAGNITUDE = Method(METHOD, "magnitude pruning to a sparsity, global or per matrix (Han et al. "
                   "2015; Gordon et al. 2020)", {"sparsity": 0.5, "scope": "global", **RETRAIN},
                   _compress, lambda settings: (check_sparsity(settings["sparsity"],
                                                               settings["scope"]),
                                                check_retrain(settings)))
