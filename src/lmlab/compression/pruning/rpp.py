"""Reweighted proximal pruning (Guo, Liu, Ren, Liu & Yang 2019, "Reweighted Proximal Pruning
for Large-Scale Language Representation", §3).

RPP minimises the task loss plus a reweighted ℓ1 penalty (§3, eq. 2; Candès, Wakin & Boyd
2008):

    min_w  f(w) + γ · Σ_i α_i |w_i|,    α_i = 1 / (|w_i| + ε)   (recomputed every few steps),

by proximal gradient: the optimizer (AdamW, "NIP" in the paper) takes its step on f alone
and the ℓ1 part is applied after it by its proximal operator (§3, eq. 3-4), a soft
threshold of each weight at η_t · γ · α_i for the step's learning rate η_t:

    prox(z)_i = sign(z_i) · max(|z_i| − η_t γ α_i, 0).

Weights driven to 0 stay near 0 (their α grows). After training, the ``sparsity`` share of
the smallest weights is masked (magnitude pruning,
:mod:`~lmlab.compression.pruning.magnitude`) and the model is fine-tuned with the mask
kept, as the paper does.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from lmlab.errors import ConfigError


def check_rpp(gamma, epsilon, every) -> None:
    for name, value in (("gamma", gamma), ("epsilon", epsilon)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"--set {name}={value!r}: must be a number > 0")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"--set reweight_every={every!r}: expected an integer >= 1 (steps)")


def reweight(weight: torch.Tensor, epsilon: float) -> torch.Tensor:
    """α = 1 / (|w| + ε), elementwise (eq. 2's weights)."""
    return 1.0 / (weight.detach().abs() + epsilon)


def proximal_l1(weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """sign(w) · max(|w| − t, 0) for a threshold ``t`` broadcast to ``weight``."""
    return torch.sign(weight) * (weight.abs() - threshold).clamp_min(0.0)


def encoder_matrices(model: nn.Module) -> dict:
    """The encoder's Linear weights (what RPP prunes: the transformer layers, not the
    embeddings nor the task head), by name."""
    return {name: p for name, p in model.named_parameters()
            if p.dim() == 2 and name.startswith("backbone.encoder.")}


class ReweightedProximal:
    """After every step of any optimizer holding these ``weights``, apply the reweighted ℓ1
    proximal operator with that optimizer's learning rate; α recomputed every ``every``
    steps (and at the first). Use as a context manager (the global hook is removed on
    exit)."""

    def __init__(self, weights: dict, gamma: float, epsilon: float, every: int):
        self.weights, self.gamma, self.epsilon, self.every = weights, gamma, epsilon, every
        self.ids = {id(w) for w in weights.values()}
        self.alpha: dict = {}
        self.steps = 0

    def step(self, lr: float) -> None:
        if self.steps % self.every == 0 or not self.alpha:  # (a resumed run: at once)
            self.alpha = {name: reweight(w, self.epsilon) for name, w in self.weights.items()}
        self.steps += 1
        with torch.no_grad():
            for name, weight in self.weights.items():
                weight.copy_(proximal_l1(weight, lr * self.gamma * self.alpha[name]))

    def _hook(self, optimizer, args, kwargs) -> None:
        for group in optimizer.param_groups:
            if any(id(p) in self.ids for p in group["params"]):
                self.step(group["lr"])
                return

    @contextlib.contextmanager
    def active(self):
        handle = register_optimizer_step_post_hook(self._hook)
        try:
            yield self
        finally:
            handle.remove()

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
