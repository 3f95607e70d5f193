"""Proposal (noise) distributions for the sampled softmax losses.

* :class:`UnigramProposal` — q(w) ∝ (count(w) + 1)^power over the train split (Bengio &
  Senécal 2003 use the unigram; Mnih & Teh 2012 the unigram as NCE noise).
* :class:`AdaptiveProposal` — Bengio & Senécal (2008): the proposal is moved toward the
  model's own distribution using the importance weights already computed for the
  gradient. This version adapts a context-independent proposal: after each batch,
  ``a <- (1 - rate) a + rate * m`` where ``m`` is the self-normalised importance estimate
  of the model's marginal over the sampled words, and ``q = floor * unigram + (1 - floor)
  * a^power / Z``: the same power that flattens the unigram tempers the adapted vector
  (with power 1 the proposal sharpened toward the model's marginal and covered the rare
  words too seldom: 1.24x full softmax's perplexity at K = 4096 on WikiText-2), and the
  floor keeps every word's probability above zero. ``a`` starts at the plain unigram, so
  the first proposal equals :class:`UnigramProposal`'s. The adapted vector is objective
  state (checkpointed), so resume stays exact.

Samples come from a generator seeded by (seed, step), never the global RNG.
"""

from __future__ import annotations

import numpy as np
import torch


def unigram_counts(ids: np.ndarray, vocab_size: int) -> torch.Tensor:
    """Counts of each id in a token stream. ids: (N,) -> (V,) float64."""
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab_size)[:vocab_size]
    return torch.from_numpy(counts.astype(np.float64))


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step) + 17)


class UnigramProposal:
    adaptive = False

    def __init__(self, counts: torch.Tensor, power: float = 1.0):
        weights = (counts.double() + 1.0) ** power  # (V,)
        self.probs = (weights / weights.sum()).float()  # (V,)

    def sample(self, num: int, generator: torch.Generator) -> torch.Tensor:
        return torch.multinomial(self.probs, num, replacement=True, generator=generator)  # (K,)

    def log_prob(self, ids: torch.Tensor) -> torch.Tensor:
        return self.probs[ids].log()

    def update(self, samples: torch.Tensor, weights: torch.Tensor) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class AdaptiveProposal(UnigramProposal):
    adaptive = True

    def __init__(self, counts: torch.Tensor, power: float, rate: float, floor: float):
        super().__init__(counts, power)
        self.unigram = self.probs  # (V,) ∝ (count + 1)^power
        plain = counts.double() + 1.0
        self.adapted = (plain / plain.sum()).float()  # (V,), starts at the plain unigram
        self.rate, self.floor, self.power = rate, floor, power

    def _mix(self) -> None:
        tempered = self.adapted.double() ** self.power  # (V,)
        tempered = (tempered / tempered.sum()).float()
        self.probs = self.floor * self.unigram + (1.0 - self.floor) * tempered

    def update(self, samples: torch.Tensor, weights: torch.Tensor) -> None:
        """samples: (K,); weights: (N, K) self-normalised importance weights per row."""
        estimate = torch.zeros_like(self.adapted).index_add_(0, samples, weights.mean(0).float())
        self.adapted.mul_(1.0 - self.rate).add_(estimate, alpha=self.rate)
        self._mix()

    def state_dict(self) -> dict:
        return {"adapted": self.adapted.clone()}

    def load_state_dict(self, state: dict) -> None:
        if "adapted" in state:
            self.adapted = state["adapted"].clone()
            self._mix()
