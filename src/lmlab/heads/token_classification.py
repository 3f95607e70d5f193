"""Token classification head (NER): a tag per word, optionally through a CRF.

As BERT's CoNLL-2003 set-up (Devlin et al. 2019, §5.3) the first sub-token of each word
carries the word's tag and the other sub-tokens are ignored (label -100). With ``crf:
true`` the word-level emissions feed a linear-chain CRF (Lample et al. 2016) whose Viterbi
path is the prediction. The batch maps words to sub-tokens with ``word_starts`` (B, W):
the sub-token index of each word's first piece, ``word_mask`` (B, W) marking real words.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.layers.crf import LinearChainCRF


@dataclass
class TokenHeadConfig:
    crf: bool = False
    dropout: float = 0.1


class TokenClassificationHead(nn.Module):
    def __init__(self, hidden_size: int, num_tags: int, config: TokenHeadConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(hidden_size, num_tags)
        self.crf = LinearChainCRF(num_tags) if config.crf else None

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        starts = batch["word_starts"]  # (B, W)
        words = hidden.gather(1, starts.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))  # (B, W, D)
        return self.classifier(self.dropout(words))  # (B, W, K)

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        tags, mask = batch["labels"], batch["word_mask"]  # (B, W)
        if self.crf is not None:
            return self.crf.nll(logits, tags.clamp(min=0), mask)
        return F.cross_entropy(logits.flatten(0, 1), tags.masked_fill(~mask.bool(), -100).flatten())

    def predict(self, logits: torch.Tensor, batch: dict) -> list[list[int]]:
        mask = batch["word_mask"]
        if self.crf is not None:
            return self.crf.decode(logits, mask)
        best = logits.argmax(-1)
        return [best[row, :int(mask[row].sum())].tolist() for row in range(best.shape[0])]
