"""Noise-contrastive estimation (Mnih & Teh 2012, eqs. 5–8).

Data words are told apart from k noise words drawn from q by logistic regression on
``Δ(w) = s_w - log(k q(w))``, with the model's normaliser fixed to 1 (Mnih & Teh §3: the
unnormalised score exp(s_w) is used as P(w|h); the network learns to self-normalise):

    L = -log σ(Δ(y)) - sum_{j=1..k} log σ(-Δ(n_j))

As k grows the gradient tends to ``∇s_y - sum_w exp(s_w) ∇s_w``, the maximum-likelihood
gradient when the model is normalised. The k noise words are shared by the batch's rows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lmlab.objectives.softmax.importance import sampled_scores, target_scores


def nce_loss(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
             targets: torch.Tensor, samples: torch.Tensor, log_q_samples: torch.Tensor,
             log_q_targets: torch.Tensor) -> torch.Tensor:
    """Mean NCE loss over rows. features (N, D), targets (N,), samples (K,), log q's."""
    log_k = math.log(samples.numel())
    data = target_scores(features, weight, bias, targets) - (log_k + log_q_targets)  # (N,)
    noise = sampled_scores(features, weight, bias, samples) - (log_k + log_q_samples)  # (N, K)
    return (F.softplus(-data) + F.softplus(noise).sum(-1)).mean()
