"""Importance sampling of the softmax gradient (Bengio & Senécal 2003, §3; 2008), in the
sampled-softmax form of Jean et al. (2015, §3.1).

The log-likelihood gradient is ``∇s_y - E_{w~P}[∇s_w]``; the expectation is estimated by
self-normalised importance sampling with K words drawn from a proposal q. Each candidate's
score is corrected by its expected count under the proposal, ``s̃_w = s_w - log(K q(w))``,
and the loss is the cross-entropy over the candidate set {y} ∪ {w_1..w_K}:

    L = -s̃_y + log( exp(s̃_y) + sum_j exp(s̃_{w_j}) ),

with samples equal to the row's target removed ("accidental hits", as TensorFlow's
``sampled_softmax_loss`` does). Its gradient is ``-(1 - r_y) ∇s_y + sum_j r_j ∇s_{w_j}``
with r the self-normalised weights over the candidates, which tends to the full-softmax
gradient as K grows. The target must be inside the normaliser: Bengio & Senécal's
estimator of the negative phase alone, used as a loss (``-s_y + logsumexp_j s̃_{w_j}``), is
unbounded below — the push on s_y never saturates, and after a few hundred Adam steps on
WikiText-2 the exact perplexity of such a model was worse than uniform (139k for 33k
words). The K samples are shared by every position of the batch (Bengio & Senécal's
block sampling), so the cost is one (N, D) x (D, K) product instead of (N, D) x (D, V).
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
                             samples: torch.Tensor, log_q: torch.Tensor,
                             log_q_targets: torch.Tensor):
    """Mean sampled-softmax loss over rows, and the (N, K) self-normalised weights of the
    samples alone (detached; what the adaptive proposal learns from).

    features (N, D) of rows with a real target; targets (N,); samples (K,); log_q (K,)
    and log_q_targets (N,) are log q of the samples and of the targets.
    """
    log_count = math.log(samples.numel())
    corrected = sampled_scores(features, weight, bias, samples) - log_q - log_count  # (N, K)
    hits = samples[None, :] == targets[:, None]  # (N, K) sample is the row's target
    corrected = corrected.masked_fill(hits, float("-inf"))
    target = target_scores(features, weight, bias, targets) - log_q_targets - log_count  # (N,)
    candidates = torch.cat([target[:, None], corrected], dim=-1)  # (N, 1 + K)
    loss = (torch.logsumexp(candidates, dim=-1) - target).mean()
    return loss, F.softmax(corrected.detach(), dim=-1)
