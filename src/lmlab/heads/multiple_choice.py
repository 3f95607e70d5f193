"""Multiple-choice head (RACE, C3): one score per option, softmax across the options.

Each (passage, question + option) pair is encoded as its own sequence; the pooled vector
goes to a single-output linear layer, and the K scores of a question are normalised
together (Radford et al. 2018 §3.3; Devlin et al. 2019 SWAG set-up). The batch is
flattened to (B*K, T) for the encoder; ``num_choices`` restores (B, K).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.heads.sequence_classification import SequenceHeadConfig, pool


class MultipleChoiceHead(nn.Module):
    def __init__(self, hidden_size: int, config: SequenceHeadConfig):
        super().__init__()
        self.config = config
        self.pooler = nn.Linear(hidden_size, hidden_size) if config.pooling == "cls" else None
        self.dropout = nn.Dropout(config.dropout)
        self.scorer = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        pooled = pool(hidden, batch["attention_mask"], self.config.pooling)  # (B*K, D)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        scores = self.scorer(self.dropout(pooled)).squeeze(-1)  # (B*K,)
        scores = scores.view(-1, batch["num_choices"])  # (B, K)
        if "choice_mask" in batch:  # C3 has 2-4 options: padded options never win
            scores = scores.masked_fill(~batch["choice_mask"].bool(), -1e4)
        return scores

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(logits, batch["labels"])

    def predict(self, logits: torch.Tensor, batch: dict) -> list[int]:
        return logits.argmax(-1).tolist()
