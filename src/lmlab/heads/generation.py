"""The head of generation fine-tuning: the pre-trained model's own LM head, trained with
teacher forcing (cross-entropy of each reference token given the ones before it).

It holds the pre-trained ``lm_head`` (tied to the token embedding), so fine-tuning starts
from the pre-trained output layer rather than a new classifier. Predictions are not a
forward pass but a search (:mod:`lmlab.generation`); the fine-tuning job runs it.
"""

from __future__ import annotations

import torch
from torch import nn


class GenerationHead(nn.Module):
    def __init__(self, lm_head: nn.Module):
        super().__init__()
        self.lm_head = lm_head

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        return hidden  # (B, T, D): decoder or decoder-only states

    def loss(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        """Mean cross-entropy over the positions whose ``labels`` are not IGNORE."""
        labels = batch["labels"]  # (B, T)
        chosen = labels >= 0
        return self.lm_head.loss(hidden[chosen], labels[chosen])  # (N, D), (N,)
