"""Distillation losses, each as its paper writes it (review §5.1.1).

Shapes: logits (B, C); hidden states (B, T, D); attention scores (B, H, T, T); keep
(B, T) bool, True = a real token. Every loss is a mean over the batch (and positions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
            temperature: float, alpha: float) -> torch.Tensor:
    """Hinton, Vinyals & Dean 2015 §2 (the review's eq. 29): the soft targets
    q_T = softmax(z_t / T) and the student's softmax(z_s / T) at temperature T,

        L = α · T² · KL(q_T || softmax(z_s / T)) + (1 − α) · CE(y, softmax(z_s)),

    T² keeping the soft term's gradient scale independent of T (§2.1). Batch mean."""
    soft = F.kl_div(F.log_softmax(student / temperature, dim=-1),
                    F.log_softmax(teacher / temperature, dim=-1), log_target=True,
                    reduction="batchmean")
    hard = F.cross_entropy(student, labels)
    return alpha * temperature ** 2 * soft + (1 - alpha) * hard


def logit_mse_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor | None,
                   alpha: float) -> torch.Tensor:
    """Tang et al. 2019 ("Distilling Task-Specific Knowledge from BERT into Simple Neural
    Networks") eq. 2: L = α · CE(y, softmax(z_s)) + (1 − α) · ||z_t − z_s||²₂ (mean over the
    batch of the squared distance of the logit vectors). For a regression head (C = 1) or
    no labels the hard term is dropped (α = 0)."""
    distance = (student - teacher).pow(2).sum(dim=-1).mean()
    if labels is None or alpha == 0:
        return distance
    return alpha * F.cross_entropy(student, labels) + (1 - alpha) * distance


def soft_cross_entropy(student: torch.Tensor, teacher: torch.Tensor,
                       temperature: float) -> torch.Tensor:
    """−Σ_c softmax(z_t / T)_c · log softmax(z_s / T)_c, batch mean: BERT-PKD's L_DS
    (Sun et al. 2019 eq. 1) and TinyBERT's L_pred (Jiao et al. 2020 eq. 10)."""
    target = F.softmax(teacher / temperature, dim=-1)
    return -(target * F.log_softmax(student / temperature, dim=-1)).sum(dim=-1).mean()


def patient_loss(student_cls: list[torch.Tensor], teacher_cls: list[torch.Tensor]) -> torch.Tensor:
    """BERT-PKD's L_PT (Sun et al. 2019 eq. 3): Σ_j || h_s^j / ||h_s^j||₂ − h_t^{I(j)} /
    ||h_t^{I(j)}||₂ ||²₂ over the mapped layers' [CLS] states (each (B, D)), batch mean."""
    total = student_cls[0].new_zeros(())
    for student, teacher in zip(student_cls, teacher_cls, strict=True):
        total = total + (F.normalize(student, dim=-1) - F.normalize(teacher, dim=-1)) \
            .pow(2).sum(dim=-1).mean()
    return total


def masked_mse(student: torch.Tensor, teacher: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the real positions: student, teacher (B, T, D), keep (B, T)."""
    weights = keep.to(student.dtype)[..., None]  # (B, T, 1)
    squared = (student - teacher).pow(2) * weights
    return squared.sum() / (weights.sum() * student.shape[-1]).clamp(min=1)


def attention_mse(student: torch.Tensor, teacher: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """TinyBERT's L_attn (Jiao et al. 2020 eq. 7): (1/h) Σ_i MSE(A_i^S, A_i^T) over the h
    heads' unnormalised scores A = QKᵀ/√d (B, H, T, T); the mean runs over the pairs of
    real query and key positions (padding is left out, as the released code zeroes the
    masked scores of both models)."""
    pairs = (keep[:, :, None] & keep[:, None, :]).to(student.dtype)[:, None]  # (B, 1, T, T)
    squared = (student - teacher).pow(2) * pairs
    return squared.sum() / (pairs.sum() * student.shape[1]).clamp(min=1)


def cosine_loss(student: torch.Tensor, teacher: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """DistilBERT's L_cos (Sanh et al. 2019 §2): 1 − cos(h_s, h_t) of the last hidden
    states, averaged over the real positions; (B, T, D) each, keep (B, T)."""
    cosine = F.cosine_similarity(student, teacher, dim=-1)  # (B, T)
    weights = keep.to(student.dtype)
    return ((1 - cosine) * weights).sum() / weights.sum().clamp(min=1)
