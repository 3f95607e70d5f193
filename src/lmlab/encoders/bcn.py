"""Bi-attentive classification network encoder (BCN; McCann, Bradbury, Xiong & Socher 2017,
"Learned in Translation: Contextualized Word Vectors", §5), the bi-attentive student that
Liu et al. 2019 ("Attentive Student Meets Multi-Task Teacher", §3.2) distil BERT into: the
review's "BNN" row (issue 20).

For word vectors w (B, T, E) and their padding mask:

    f = ReLU(W w + b)                                     feed-forward (E -> E)
    X = biLSTM_enc(f)                                     (B, T, 2c)
    A = X Yᵀ,  A_x = softmax(A) over Y's real positions   affinity (B, T, T)
    C = A_x Y                                             conditioned summary (B, T, 2c)
    X|y = biLSTM_int([X ; X − C ; X ⊙ C])                 integration (B, T, 2c)

McCann et al. read two sequences x and y (y = x for one sentence, §5); here both are the
whole input (a sentence pair as one [SEP]-joined sequence), so the bi-attention is over the
input itself. BCN's pooling (max, mean, min and self-attentive) and its maxout classifier
are the sequence head's job: the student uses the head's masked mean pooling. The LSTMs
read packed sequences, so padding never reaches a real position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class BCNConfig:
    name: Literal["bcn"] = "bcn"
    cell_size: int = 0
    """LSTM cells per direction; 0 = half the word-vector width."""
    dropout: float = 0.1

    def validate(self, path: str) -> None:
        if self.cell_size < 0:
            raise ConfigError(f"{path}.cell_size: must be >= 0 (0 = half the model width)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


def bi_attention(x: torch.Tensor, y: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """C = softmax(X Yᵀ) Y over the real positions of y. x: (B, T, D), y: (B, S, D),
    keep: (B, S) bool. Returns (B, T, D)."""
    affinity = x @ y.transpose(1, 2)  # (B, T, S)
    affinity = affinity.masked_fill(~keep[:, None, :], float("-inf"))
    return torch.softmax(affinity, dim=-1) @ y


class BCNEncoder(nn.Module):
    recurrent = False

    def __init__(self, hidden_size: int, config: BCNConfig):
        super().__init__()
        self.config = config
        cells = config.cell_size or max(1, hidden_size // 2)
        self.output_size = 2 * cells
        self.feedforward = nn.Linear(hidden_size, hidden_size)
        self.encode = nn.LSTM(hidden_size, cells, batch_first=True, bidirectional=True)
        self.integrate = nn.LSTM(3 * 2 * cells, cells, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)

    @staticmethod
    def _run(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = lstm(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory=None, return_layers: bool = False) -> EncoderOutput:
        if memory is not None:
            raise ValueError("the bcn encoder carries no memory across segments")
        batch, length, _ = x.shape
        keep = (attention_mask.bool() if attention_mask is not None
                else torch.ones(batch, length, dtype=torch.bool, device=x.device))  # (B, T)
        lengths = keep.sum(1).clamp_min(1)
        f = self.dropout(F.relu(self.feedforward(x)))  # (B, T, E)
        encoded = self._run(self.encode, f, lengths)  # (B, T, 2c)
        summary = bi_attention(encoded, encoded, keep)  # (B, T, 2c)
        joined = torch.cat([encoded, encoded - summary, encoded * summary], dim=-1)  # (B, T, 6c)
        hidden = self._run(self.integrate, self.dropout(joined), lengths)  # (B, T, 2c)
        return EncoderOutput(hidden, None, (encoded, hidden) if return_layers else None)


def build_bcn(hidden_size: int, config: BCNConfig) -> BCNEncoder:
    return BCNEncoder(hidden_size, config)
