"""L0 gates on attention heads (Voita, Talbot, Moiseev, Sennrich & Titov 2019, "Analyzing
Multi-Head Self-Attention", §6) with the hard-concrete distribution of Louizos, Welling &
Kingma 2018 ("Learning Sparse Neural Networks through L0 Regularization", §4).

Each head h of each layer gets a stochastic gate z_h in [0, 1] multiplying its output
(Voita eq. 4: MultiHead(Q, K, V) = Concat_i(g_i · head_i) W^O). Hard concrete (Louizos
eqs. 9-10, stretch (γ, ζ), temperature β, location log α):

    u ~ U(0, 1),  s = σ((log u − log(1 − u) + log α) / β),
    s̄ = s · (ζ − γ) + γ,  z = min(1, max(0, s̄)).

The expected L0 norm (Louizos eq. 12) is differentiable in log α:

    E[‖z‖₀] = Σ_h P(z_h ≠ 0) = Σ_h σ(log α_h − β · log(−γ / ζ)),

and training minimises L_task + λ · E[‖z‖₀] (Voita eq. 6). At test time the gate is
deterministic (Louizos eq. 13): ẑ = min(1, max(0, σ(log α) · (ζ − γ) + γ)). Heads with
ẑ = 0 are removed for real (:func:`~lmlab.compression.pruning.heads.remove_heads`); an open
gate ẑ < 1 is folded into the output projection's columns of its head, so the smaller model
computes exactly what the gated one did (:func:`fold_and_remove`).

Defaults β = 2/3, γ = −0.1, ζ = 1.1 (Louizos §4.2 and Voita's released code).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lmlab.compression.pruning.heads import _head_rows, attentions, remove_heads
from lmlab.errors import ConfigError

BETA, GAMMA, ZETA = 2 / 3, -0.1, 1.1


def check_l0(temperature, init, penalty) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or \
            temperature <= 0:
        raise ConfigError(f"--set temperature={temperature!r}: the hard-concrete β must be > 0")
    if isinstance(init, bool) or not isinstance(init, (int, float)):
        raise ConfigError(f"--set init_log_alpha={init!r}: expected a number")
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or penalty < 0:
        raise ConfigError(f"--set penalty={penalty!r}: the L0 weight λ must be a number >= 0")


def hard_concrete_sample(log_alpha: torch.Tensor, u: torch.Tensor, beta: float = BETA,
                         gamma: float = GAMMA, zeta: float = ZETA) -> torch.Tensor:
    """z for uniform draws ``u`` (same shape as ``log_alpha``), Louizos eqs. 9-10."""
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / beta)
    return (s * (zeta - gamma) + gamma).clamp(0.0, 1.0)


def expected_l0(log_alpha: torch.Tensor, beta: float = BETA, gamma: float = GAMMA,
                zeta: float = ZETA) -> torch.Tensor:
    """P(z ≠ 0) per gate (Louizos eq. 12); its sum is the expected L0 norm."""
    return torch.sigmoid(log_alpha - beta * math.log(-gamma / zeta))


def deterministic_gate(log_alpha: torch.Tensor, gamma: float = GAMMA,
                       zeta: float = ZETA) -> torch.Tensor:
    """The test-time gate ẑ (Louizos eq. 13)."""
    return (torch.sigmoid(log_alpha) * (zeta - gamma) + gamma).clamp(0.0, 1.0)


class HeadGates(nn.Module):
    """One log α per head: a (H_l,) parameter per layer. Attached to a model by
    :meth:`attach`, each attention's ``head_gate`` is set before its forward pass: a fresh
    hard-concrete sample in training mode, ẑ in eval mode.

    ``scale``: log α = scale · θ for the stored θ. Adam's step on θ does not depend on the
    gradient's size, so log α moves ``scale`` times faster than a weight at the same
    learning rate: the gates get their own effective learning rate in the one optimizer."""

    def __init__(self, heads: list[int], init: float = 3.0, beta: float = BETA,
                 scale: float = 1.0):
        super().__init__()
        self.beta, self.scale = beta, scale
        self.theta = nn.ParameterList(nn.Parameter(torch.full((h,), init / scale))
                                      for h in heads)

    def log_alpha(self, layer: int) -> torch.Tensor:
        return self.theta[layer] * self.scale  # (H_l,)

    def gate(self, layer: int) -> torch.Tensor:
        log_alpha = self.log_alpha(layer)
        if not self.training:
            return deterministic_gate(log_alpha)
        u = torch.rand_like(log_alpha).clamp(1e-6, 1 - 1e-6)
        return hard_concrete_sample(log_alpha, u, self.beta)

    def penalty(self) -> torch.Tensor:
        """E[‖z‖₀] over every head (a scalar)."""
        return sum(expected_l0(self.log_alpha(i), self.beta).sum()
                   for i in range(len(self.theta)))

    def closed(self) -> list[torch.Tensor]:
        """Per layer a (H_l,) bool: True where ẑ > 0 (the head is kept)."""
        return [deterministic_gate(self.log_alpha(i)).detach() > 0
                for i in range(len(self.theta))]

    def attach(self, model: nn.Module) -> list:
        """Hook every encoder attention of ``model``; returns the hook handles."""
        return [module.register_forward_pre_hook(
                    lambda m, args, i=index: setattr(m, "head_gate", self.gate(i)))
                for index, module in enumerate(attentions(model))]


def fold_and_remove(model: nn.Module, gates: list[torch.Tensor]) -> list[int]:
    """Fold each layer's (H_l,) gate values into its output projection's columns and
    remove the heads whose gate is 0, in place; returns the new head count per layer.
    The result equals ``model`` with ``head_gate = gates`` applied."""
    modules = attentions(model)
    if len(gates) != len(modules) or any(len(g) != m.num_heads for g, m in zip(gates, modules)):
        raise ConfigError(f"L0 gates: expected one gate per head of "
                          f"{[m.num_heads for m in modules]}")
    with torch.no_grad():
        for module, gate in zip(modules, gates):
            every = _head_rows(torch.ones(module.num_heads, dtype=torch.bool), module.head_size)
            scale = gate.to(module.out.weight.dtype).repeat_interleave(module.head_size)
            module.out.weight[:, every] *= scale  # (D, H·d) columns times their head's gate
            module.head_gate = None
    return remove_heads(model, [gate > 0 for gate in gates])
