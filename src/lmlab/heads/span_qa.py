"""Extractive span QA head and answer decoding (SQuAD v1.1; CMRC 2018; DRCD).

BERT (Devlin et al. 2019, §4.2): a start vector S and end vector E score every token;
P(start = i) = softmax_i(S·T_i). The answer is the span (i, j), i <= j, j - i < max
length, both inside the context, with the highest S·T_i + E·T_j, taken over every window
(doc stride) of the context. :func:`best_spans` is that search over one window's n-best
starts and ends, as the reference ``run_squad.py`` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpanQAHead(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.span = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        logits = self.span(hidden)  # (B, T, 2)
        # Padding can never be an answer boundary.
        return logits.masked_fill(~batch["attention_mask"].bool().unsqueeze(-1), -1e4)

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        start, end = logits.unbind(-1)  # (B, T) each
        return (F.cross_entropy(start, batch["start_positions"])
                + F.cross_entropy(end, batch["end_positions"])) / 2

    def predict(self, logits: torch.Tensor, batch: dict) -> list:
        return logits.tolist()


def best_spans(start_logits, end_logits, context_mask, n_best: int = 20,
               max_answer_length: int = 30) -> list[tuple[float, int, int]]:
    """(score, start, end) of the valid spans among the ``n_best`` starts x ends, best
    first. ``context_mask[i]`` is True where token i belongs to the context."""
    starts = sorted(range(len(start_logits)), key=lambda i: -start_logits[i])[:n_best]
    ends = sorted(range(len(end_logits)), key=lambda i: -end_logits[i])[:n_best]
    spans = []
    for i in starts:
        for j in ends:
            if not (context_mask[i] and context_mask[j]) or j < i or j - i + 1 > max_answer_length:
                continue
            spans.append((start_logits[i] + end_logits[j], i, j))
    return sorted(spans, reverse=True)[:n_best]
