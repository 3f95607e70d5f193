"""Importance sampling of the softmax gradient (Bengio & Senécal 2003, §3).

The log-likelihood gradient is ``∇s_y - E_{w~P}[∇s_w]``; the expectation is estimated by
self-normalised importance sampling with K words drawn from a proposal q:

    E_P[∇s_w] ≈ sum_j r_j ∇s_{w_j},   r_j = exp(s_{w_j} - log q(w_j)) / sum_k (same)

which is exactly the gradient of the surrogate loss

    L = -s_y + logsumexp_j (s_{w_j} - log q(w_j)) - log K,

whose value estimates -log P(y|h) (biased for finite K). The K samples are shared by
every position of the batch (as in Bengio & Senécal's block sampling), so the cost is one
(N, D) x (D, K) product instead of (N, D) x (D, V).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sampled_scores(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   ids: torch.Tensor) -> torch.Tensor:
    """s_w = h·u_w + b_w for the given words. features (N, D), ids (K,) -> (N, K)."""
    scores = features @ weight[ids].t()  # (N, K)
    return scores + bias[ids] if bias is not None else scores


def target_scores(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  targets: torch.Tensor) -> torch.Tensor:
    """s_y per row. features (N, D), targets (N,) -> (N,)."""
    scores = (features * weight[targets]).sum(-1)  # (N,)
    return scores + bias[targets] if bias is not None else scores


def importance_sampling_loss(features: torch.Tensor, weight: torch.Tensor,
                             bias: torch.Tensor | None, targets: torch.Tensor,
                             samples: torch.Tensor, log_q: torch.Tensor):
    """Mean surrogate loss over rows, and the (N, K) self-normalised weights (detached).

    features (N, D) of rows with a real target; targets (N,); samples (K,); log_q (K,).
    """
    corrected = sampled_scores(features, weight, bias, samples) - log_q  # (N, K)
    log_estimate = torch.logsumexp(corrected, dim=-1) - math.log(samples.numel())  # (N,)
    loss = (log_estimate - target_scores(features, weight, bias, targets)).mean()
    return loss, F.softmax(corrected.detach(), dim=-1)
