"""Word–region alignment by optimal transport (UNITER, Chen et al. 2020, §3.2 "WRA").

UNITER aligns the words of a text with the regions of a picture through a transport plan
T (m words x n regions) that minimises Σ_ij T_ij c(w_i, v_j), with the cosine distance
c(w, v) = 1 - cos(w, v) of the encoder's output states and uniform marginals (each word
carries 1/m, each region 1/n). The exact optimum is approximated by the **IPOT** algorithm
(Xie et al. 2019, "A Fast Proximal Point Method for Computing Exact Wasserstein Distance",
Algorithm 1), as UNITER's code does: proximal-point outer iterations, each a Sinkhorn-like
rescaling (``inner`` steps) of Q = exp(-C / β) ⊙ T. Unlike entropic Sinkhorn, IPOT's limit
is the exact (unregularised) optimal transport; after a finite number of iterations the
region marginal holds to rounding (it is rescaled last) and the word marginal
approximately. The plan is computed without gradient; the loss is differentiable through
the costs, D = Σ_ij T_ij C_ij.

The objective ``wra`` draws its own matched / mismatched pairs (ITM's negatives, another
image *and* another caption) and minimises D for matched pairs and maximises it for the
others: loss = (Σ_pos D − Σ_neg D) / B, UNITER's WRA loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.errors import ConfigError
from lmlab.multimodal.sampling import (check_rate, draw_negatives, forward_batch,
                                       needs_visual_outputs, row_generators)
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective

WRA_STREAM = 3


@torch.no_grad()
def ipot(cost: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor, beta: float = 0.5,
         iterations: int = 50, inner: int = 1) -> torch.Tensor:
    """IPOT (Xie et al. 2019, Alg. 1): cost (B, m, n), x_mask (B, m) / y_mask (B, n) True on
    real words / regions -> plan T (B, m, n) with marginals 1/m_b over the real words and
    1/n_b over the real regions, zero on padding. Computed in float64."""
    cost = cost.double()
    valid = (x_mask[:, :, None] & y_mask[:, None, :]).double()  # (B, m, n)
    mu = x_mask.double() / x_mask.sum(1, keepdim=True).clamp_min(1)  # (B, m)
    nu = y_mask.double() / y_mask.sum(1, keepdim=True).clamp_min(1)  # (B, n)
    kernel = torch.exp(-cost / beta) * valid  # G = exp(-C/β), (B, m, n)
    plan, right = valid.clone(), nu.clone()
    tiny = torch.finfo(torch.float64).tiny
    for _ in range(iterations):
        q = kernel * plan  # (B, m, n)
        for _ in range(inner):
            left = mu / (q @ right[..., None]).squeeze(-1).clamp_min(tiny)  # (B, m)
            right = nu / (q.transpose(1, 2) @ left[..., None]).squeeze(-1).clamp_min(tiny)
        plan = left[..., None] * q * right[:, None, :]  # diag(a) Q diag(b)
    return plan


def cosine_cost(words: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """(B, m, D), (B, n, D) -> (B, m, n): 1 - cos(w_i, v_j)."""
    return 1.0 - F.normalize(words, dim=-1) @ F.normalize(regions, dim=-1).transpose(1, 2)


def ot_distance(words, regions, word_mask, region_mask, beta: float = 0.5,
                iterations: int = 50, inner: int = 1) -> torch.Tensor:
    """(B,) D_b = Σ_ij T_ij C_ij with T = IPOT(C) (no gradient through T)."""
    cost = cosine_cost(words, regions)  # (B, m, n)
    plan = ipot(cost.detach(), word_mask, region_mask, beta, iterations, inner)
    return (cost * plan.to(cost.dtype)).sum((1, 2))


@dataclass
class WordRegionAlignmentConfig(ConfigDefaults):
    name: Literal["wra"] = "wra"
    weight: float = 1.0
    negative_rate: float = 0.5
    """Share of rows whose picture is swapped for a mismatched one (as ITM)."""
    beta: float = 0.5
    """IPOT's proximal step β (UNITER: 0.5)."""
    iterations: int = 50
    """IPOT outer iterations (UNITER: 50)."""
    inner: int = 1
    """Sinkhorn rescalings per outer iteration (UNITER: 1)."""

    def validate(self, path: str) -> None:
        check_rate(self.negative_rate, path, "negative_rate")
        if self.beta <= 0 or self.iterations < 1 or self.inner < 1:
            raise ConfigError(f"{path}: beta must be > 0 and iterations, inner >= 1, got "
                              f"beta={self.beta}, iterations={self.iterations}, "
                              f"inner={self.inner}")

    def check_compatible(self, run_config, path: str) -> None:
        needs_visual_outputs(run_config, path, "word-region alignment")

    def describe(self) -> str:
        return "WRA (OT, IPOT)"


class WordRegionAlignmentObjective(StatelessObjective):
    def __init__(self, config: WordRegionAlignmentConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.num_special = tokenizer.num_special if tokenizer is not None else 0

    def corrupt(self, batch: dict) -> dict:
        source = draw_negatives(batch["image_ids"], batch["caption_ids"],
                                self.config.negative_rate,
                                row_generators(batch, self.seed, WRA_STREAM))
        matched = source == torch.arange(source.shape[0])  # (B,)
        return {**batch, "features": batch["features"][source], "wra_matched": matched}

    def loss(self, model, batch: dict) -> LossOutput:
        output = forward_batch(model, batch)
        ids = batch["input_ids"]
        words = (ids >= self.num_special) & batch["attention_mask"].bool()  # (B, T)
        regions = output.visual[:, 1:]  # (B, N, D); row 0 is [IMG]
        region_mask = torch.ones(regions.shape[:2], dtype=torch.bool, device=regions.device)
        distance = ot_distance(output.text, regions, words, region_mask, self.config.beta,
                               self.config.iterations, self.config.inner)  # (B,)
        matched = batch["wra_matched"]
        sign = matched.to(distance.dtype) * 2 - 1  # +1 matched, -1 mismatched
        loss = (sign * distance).sum() / distance.shape[0]
        metrics = {"wra_loss": loss.item()}
        if matched.any():
            metrics["wra_matched_distance"] = distance[matched].mean().item()
        return LossOutput(loss, metrics)
