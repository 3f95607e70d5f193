"""Linear-chain conditional random field (Lafferty et al. 2001) over tag sequences.

Used on top of a token-classification head as in BiLSTM-CRF (Lample et al. 2016) and
BERT-CRF tagging: score(y) = start[y_1] + sum_t emit[t, y_t] + sum_t trans[y_{t-1}, y_t]
+ end[y_T]. ``nll`` is log Z - score(gold) with the forward algorithm; ``decode`` is
Viterbi. ``brute_force_best`` enumerates every path: the tests' reference twin (§6.9).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


class LinearChainCRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (from, to)
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of ``tags``. emissions (B, T, K); tags, mask (B, T); the mask
        must be a left-aligned prefix (position 0 always kept)."""
        mask = mask.to(emissions.dtype)
        emit = emissions.gather(-1, tags.unsqueeze(-1)).squeeze(-1)  # (B, T)
        total = self.start[tags[:, 0]] + (emit * mask).sum(1)
        step = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        total = total + (step * mask[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1).long() - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return total + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        alpha = self.start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            # (B, K_from, 1) + (K_from, K_to) + (B, 1, K_to) -> logsumexp over K_from
            candidate = torch.logsumexp(alpha.unsqueeze(2) + self.transitions
                                        + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].bool().unsqueeze(1), candidate, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)  # (B,)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the gold paths."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi: the best path of each row, as long as its mask."""
        score = self.start + emissions[:, 0]  # (B, K)
        backpointers = []
        for t in range(1, emissions.shape[1]):
            total = score.unsqueeze(2) + self.transitions  # (B, K_from, K_to)
            best, index = total.max(dim=1)  # (B, K_to)
            keep = mask[:, t].bool().unsqueeze(1)
            score = torch.where(keep, best + emissions[:, t], score)
            backpointers.append(torch.where(keep, index, torch.arange(
                score.shape[1], device=score.device).expand_as(index)))  # identity when padded
        score = score + self.end
        paths = []
        for row in range(emissions.shape[0]):
            length = int(mask[row].sum())
            tag = int(score[row].argmax())
            path = [tag]
            for pointers in reversed(backpointers[:length - 1]):
                tag = int(pointers[row, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths

    @torch.no_grad()
    def brute_force_best(self, emissions: torch.Tensor) -> list[int]:
        """Reference twin for one unpadded sequence (T, K): try every path."""
        length, num_tags = emissions.shape
        best, best_path = None, None
        for path in itertools.product(range(num_tags), repeat=length):
            tags = torch.tensor([path])
            value = float(self.score(emissions[None], tags, torch.ones(1, length)))
            if best is None or value > best:
                best, best_path = value, list(path)
        return best_path
