"""First-order importance of gated structures (heads, FFN neurons) and iterative masking
(Michel, Levy & Neubig 2019, eqs. 1-3 and §4; Molchanov et al. 2017's Taylor criterion).

Each structure s of a module gets a gate ξ_s (1 = as trained) that multiplies its output;
its importance is I_s = E_x |∂L(x)/∂ξ_s| at the current gates. The expectation is a sum of
|∂L_batch/∂ξ_s| over batches (L_batch a mean over its examples), as in Michel et al.'s
released code; the scores of each module are divided by their l2 norm over the unmasked
structures (§4.1). A module exposes its gate as an attribute (None = no gate).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Callable, Iterable

import torch
from torch import nn

from lmlab.errors import ConfigError


def check_fraction(fraction, step, what: str) -> None:
    for name, value in (("fraction", fraction), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0 <= value <= 1:
            raise ConfigError(f"--set {name}: bad value {value!r}; expected a share of the "
                              f"{what}, 0 <= {name} <= 1")
    if step == 0 and fraction > 0:
        raise ConfigError(f"--set step: must be > 0 to prune (a share of the {what} per round)")


def gate_importance(model: nn.Module, modules: list, attribute: str, sizes: list[int],
                    batches: Iterable, loss_of: Callable,
                    masks: list[torch.Tensor] | None = None,
                    normalize: bool = True) -> list[torch.Tensor]:
    """Per module a (n_l,) tensor of I_s: the gradient of ``loss_of(model, batch)`` w.r.t.
    the gates ``module.<attribute>`` (ones, or ``masks``: per module (n_l,) 0/1 gates
    kept applied), summed in absolute value over ``batches``; eval mode (no dropout)."""
    gates = [(torch.ones(n) if masks is None else masks[i].float().clone()).requires_grad_(True)
             for i, n in enumerate(sizes)]
    scores = [torch.zeros(n) for n in sizes]
    was_training = model.training
    model.eval()
    try:
        for module, gate in zip(modules, gates):
            setattr(module, attribute, gate)
        for batch in batches:
            grads = torch.autograd.grad(loss_of(model, batch), gates, allow_unused=True)
            for score, grad in zip(scores, grads):
                if grad is not None:
                    score += grad.detach().abs()
    finally:
        for module in modules:
            setattr(module, attribute, None)
        model.train(was_training)
    if normalize:
        for index, score in enumerate(scores):
            kept = score if masks is None else score * masks[index]
            score /= kept.norm(p=2) + 1e-20
    return scores


def iterative_masks(importance: Callable, sizes: list[int], fraction: float, step: float,
                    what: str, log=lambda message: None) -> list[torch.Tensor]:
    """Per module a (n_l,) bool mask (True = kept) with floor(fraction · total) structures
    masked, ceil(step · total) a round by increasing ``importance(masks)`` (recomputed with
    the mask in place after each round; Michel et al. §4.2). Ties go by position."""
    check_fraction(fraction, step, what)
    masks = [torch.ones(n) for n in sizes]
    total = sum(sizes)
    target = math.floor(fraction * total)
    per_round = max(1, math.ceil(step * total))
    masked = 0
    while masked < target:
        scores = importance(masks)
        flat = torch.cat([torch.where(m.bool(), s, torch.inf) for m, s in zip(masks, scores)])
        count = min(per_round, target - masked)
        flat_mask = torch.cat(masks)
        flat_mask[torch.argsort(flat, stable=True)[:count]] = 0  # lowest importance first
        masks = list(flat_mask.split(sizes))
        masked += count
        log(f"{what}: {masked} of {total} masked (kept per layer: "
            f"{[int(m.sum()) for m in masks]})")
    return [m.bool() for m in masks]


def take_linear(linear: nn.Linear, rows: torch.Tensor | None,
                columns: torch.Tensor | None) -> nn.Linear:
    """A new Linear holding ``linear``'s selected output ``rows`` and input ``columns``
    (None: all), bias rows likewise."""
    weight = linear.weight.detach()
    if rows is not None:
        weight = weight[rows]
    if columns is not None:
        weight = weight[:, columns]
    bias = linear.bias is not None
    with quiet_empty_init():  # a structure losing every row: zero-element tensors
        smaller = nn.Linear(weight.shape[1], weight.shape[0], bias=bias,
                            device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        smaller.weight.copy_(weight)
        if bias:
            smaller.bias.copy_(linear.bias.detach() if rows is None else linear.bias.detach()[rows])
    return smaller


@contextlib.contextmanager
def quiet_empty_init():
    """nn.Linear with a zero-sized side warns that initialising it does nothing; it may."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        yield
