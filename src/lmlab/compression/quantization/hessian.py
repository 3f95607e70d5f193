"""Top Hessian eigenvalue of a parameter block by power iteration with Hessian-vector
products (Shen et al. 2020, "Q-BERT: Hessian Based Ultra Low Precision Quantization of
BERT", §3.1 and Algorithm 1; Pearlmutter 1994 for Hv without forming H).

For the loss L and a block of parameters W (one encoder layer),

    g = ∂L/∂W,   Hv = ∂(g^T v)/∂W,                      (Q-BERT eq. 3)

so Hv costs one more backward pass through the graph of g. Power iteration
v <- Hv / ||Hv|| converges to the eigenvector of the eigenvalue of largest magnitude, and
λ = v^T H v (Rayleigh quotient). Q-BERT computes λ_i of layer i on several batches and
ranks layers by Ω_i = |mean(λ_i)| + std(λ_i) (§3.1: the spread across data matters too).
"""

from __future__ import annotations

import statistics
from typing import Callable, Iterable

import torch


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def top_eigenvalue(loss: torch.Tensor, parameters: list[torch.Tensor], iterations: int = 20,
                   tolerance: float = 1e-3, generator: torch.Generator | None = None) -> float:
    """The eigenvalue of largest magnitude of ∂²loss/∂W² over the block ``parameters``:
    power iteration from a seeded Gaussian v, stopped after ``iterations`` Hessian-vector
    products or when λ changes by less than ``tolerance`` (relative)."""
    grads = torch.autograd.grad(loss, parameters, create_graph=True)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
         for p in parameters]
    norm = torch.sqrt(_dot(v, v))
    v = [x / norm for x in v]
    eigenvalue = None
    for _ in range(iterations):
        hv = torch.autograd.grad(grads, parameters, grad_outputs=v, retain_graph=True)
        current = float(_dot(hv, v))  # v^T H v, ||v|| = 1
        norm = torch.sqrt(_dot(hv, hv)) + 1e-30
        v = [x.detach() / norm for x in hv]
        if eigenvalue is not None and abs(current - eigenvalue) <= tolerance * abs(eigenvalue) + 1e-30:
            return current
        eigenvalue = current
    return eigenvalue


def layer_sensitivities(model: torch.nn.Module, blocks: list[list[torch.Tensor]],
                        batches: Iterable, loss_of: Callable, iterations: int = 20,
                        tolerance: float = 1e-3, seed: int = 0) -> list[dict]:
    """Per block {"eigenvalues": λ on each batch, "omega": |mean λ| + std λ} (std 0 for
    one batch). Eval mode (no dropout), so each batch's Hessian is a fixed matrix."""
    was_training = model.training
    model.eval()
    batches = list(batches)
    results = []
    try:
        for index, block in enumerate(blocks):
            values = []
            for number, batch in enumerate(batches):
                generator = torch.Generator().manual_seed(seed * 1_000_003 + 1000 * index + number)
                values.append(top_eigenvalue(loss_of(model, batch), block, iterations, tolerance,
                                             generator))
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            results.append({"eigenvalues": values,
                            "omega": abs(statistics.fmean(values)) + spread})
    finally:
        model.train(was_training)
    return results
