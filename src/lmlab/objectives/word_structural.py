"""StructBERT's word-structural objective (Wang et al. 2019, §2.2, eq. 1).

After the MLM corruption, a fraction of the trigrams of *unmasked* tokens is shuffled and
the model reconstructs the right order: at every position of a shuffled trigram it
predicts the original token through the LM output (``argmax P(pos1 = t1, pos2 = t2,
pos3 = t3 | t1, …, tK)``, eq. 1, factorised per position). Loss = L_MLM + L_word
(+ the sentence-structural ``sso``; StructBERT sums its objectives).

The exact rule implemented: in each sequence, a trigram is three consecutive positions
that are ordinary (not special, not padding) and not chosen by the MLM. Trigrams are
drawn in random order without overlap; ``round(shuffle_rate × number of candidate
trigram starts)`` of them are shuffled (the paper: "5% of the trigrams"), at least one
when any exists. Each gets a uniformly drawn non-identity permutation of its 3
positions, so every shuffled trigram really changes the input unless its tokens repeat
(which still trains the order). Labels: the original token at all 3 positions.
Because the corruption is a permutation inside disjoint trigrams, ``where(labels !=
-100, labels, input)`` restores the input exactly.

Like MLM it draws from generators seeded by (seed, step, example) — static or dynamic —
so resume is exact. It runs after ``mlm`` in the objective list (it needs ``mlm_labels``
to stay off masked positions) and shares its forward pass.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.data.batching import IGNORE
from lmlab.objectives.base import (ConfigDefaults, LossOutput, StatelessObjective,
                                   row_generator, shared_forward)

# The five non-identity orders of a trigram.
PERMUTATIONS = torch.tensor([p for p in itertools.permutations(range(3)) if p != (0, 1, 2)])
_STREAM = 11  # a distinct generator stream from the MLM's masks


@dataclass
class WordStructuralConfig(ConfigDefaults):
    name: Literal["wso"] = "wso"
    weight: float = 1.0
    shuffle_rate: float = 0.05
    """Fraction of the unmasked trigrams that are shuffled (StructBERT: 5%)."""
    masking: Literal["static", "dynamic"] = "static"
    """static: the same shuffle every epoch (as BERT's masks); dynamic: anew every step."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not 0.0 < self.shuffle_rate <= 1.0:
            raise ConfigError(f"{path}.shuffle_rate: must be in (0, 1], got {self.shuffle_rate}")

    def describe(self) -> str:
        return f"{self.name} ({self.masking})"

    def check_compatible(self, run_config, path: str) -> None:
        names = [o.name for o in run_config.objectives]
        if "mlm" not in names or names.index("mlm") > names.index("wso"):
            raise ConfigError(f"{path}: wso shuffles trigrams of the tokens the mlm objective "
                              f"left unmasked; list {{name: mlm}} before {{name: wso}}")


def shuffle_trigrams(ids: torch.Tensor, allowed: torch.Tensor, rate: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One sequence: ids, allowed (T,) -> (shuffled ids, labels (T,), -100 off trigrams)."""
    shuffled, labels = ids.clone(), torch.full_like(ids, IGNORE)
    length = ids.numel()
    if length < 3:
        return shuffled, labels
    ok = allowed[:-2] & allowed[1:-1] & allowed[2:]  # (T-2,) trigram starts
    starts = ok.nonzero().squeeze(1)
    if starts.numel() == 0:
        return shuffled, labels
    wanted = max(1, round(rate * starts.numel()))
    taken = torch.zeros(length, dtype=torch.bool)
    for start in starts[torch.randperm(starts.numel(), generator=generator)].tolist():
        if wanted == 0:
            break
        if taken[start: start + 3].any():
            continue  # trigrams never overlap
        taken[start: start + 3] = True
        order = PERMUTATIONS[int(torch.randint(len(PERMUTATIONS), (1,), generator=generator))]
        positions = torch.arange(start, start + 3)
        shuffled[positions] = ids[positions[order]]
        labels[positions] = ids[positions]
        wanted -= 1
    return shuffled, labels


class WordStructuralObjective(StatelessObjective):
    def __init__(self, config: WordStructuralConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.num_special = tokenizer.num_special

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]  # (B, T), already MLM-corrupted
        allowed = (ids >= self.num_special) & (batch["mlm_labels"] == IGNORE)
        if "attention_mask" in batch:
            allowed &= batch["attention_mask"].bool()
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        step = batch.get("step", 0) if self.config.masking == "dynamic" else -1
        shuffled, labels = ids.clone(), torch.full_like(ids, IGNORE)
        for row, example in enumerate(example_ids.tolist()):
            generator = row_generator(self.seed, step, example, _STREAM)
            shuffled[row], labels[row] = shuffle_trigrams(ids[row], allowed[row],
                                                          self.config.shuffle_rate, generator)
        return {**batch, "input_ids": shuffled, "wso_labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        labels = batch["wso_labels"]
        chosen = labels != IGNORE  # (B, T)
        if not chosen.any():  # no trigram fits (very short rows): a zero that keeps the graph
            return LossOutput(output.hidden.sum() * 0.0, {"loss": 0.0, "tokens": 0})
        loss = model.lm_head.loss(output.hidden[chosen], labels[chosen])
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(chosen.sum())})
