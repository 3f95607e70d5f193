"""Sequence classification and regression head (GLUE, CLUE sentence/pair tasks).

BERT (Devlin et al. 2019, §4.1): the final hidden state of [CLS] goes through the pooler
(dense + tanh, pre-trained with NSP), dropout, then a linear classifier. ``pooling: mean``
averages the non-padding positions instead (Reimers & Gurevych 2019), which suits encoders
without a trained pooler. ``pooling: last`` reads the last real token through a fresh
dense + tanh, as XLNet's classifier does (Yang et al. 2019; HF ``XLNetForSequenceClassification``,
``summary_type="last"``, ``summary_use_proj``): a left-to-right/permutation model's summary
is where it has read everything. Regression (STS-B) is the same head with one output and MSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SequenceHeadConfig:
    pooling: Literal["cls", "mean", "last"] = "cls"
    """cls: BERT's pooler on the first position; mean: masked mean of all positions;
    last: a pooler on the last non-padding position (XLNet)."""
    dropout: float = 0.1
    label_smoothing: float = 0.0
    """Classification loss against (1 − ε) one-hot + ε / C (Szegedy et al. 2016, §7)."""


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    if how == "cls":
        return hidden[:, 0]  # (B, D)
    if how == "last":  # the last kept position, whichever side the padding is on
        places = torch.arange(hidden.shape[1], device=hidden.device)  # (T,)
        last = (attention_mask.bool() * places).argmax(1)  # (B,)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (B, D)
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, D)


class SequenceClassificationHead(nn.Module):
    def __init__(self, hidden_size: int, num_outputs: int, config: SequenceHeadConfig):
        super().__init__()
        self.config = config
        self.regression = num_outputs == 1
        self.pooler = nn.Linear(hidden_size, hidden_size) if config.pooling != "mean" else None
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden_size, num_outputs)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        pooled = pool(hidden, batch["attention_mask"], self.config.pooling)  # (B, D)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        logits = self.classifier(self.dropout(pooled))  # (B, C)
        return logits.squeeze(-1) if self.regression else logits  # (B,) for regression

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        if self.regression:
            return F.mse_loss(logits, batch["labels"].to(logits.dtype))
        return F.cross_entropy(logits, batch["labels"],
                               label_smoothing=self.config.label_smoothing)

    def predict(self, logits: torch.Tensor, batch: dict) -> list:
        return logits.tolist() if self.regression else logits.argmax(-1).tolist()
