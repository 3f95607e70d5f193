"""Sentence-level objectives on the ``[CLS]`` vector of a sentence pair.

* ``nsp`` — next-sentence prediction (Devlin et al. 2019, §3.1 "Task #2"): is B the
  sentence after A (0) or a random one (1)?
* ``sop`` — sentence-order prediction (ALBERT, Lan et al. 2020, §3.1): are A and B in
  order (0) or swapped (1)? Both come from the same document, so topic gives no clue.
* ``sso`` — StructBERT's sentence-structural objective (Wang et al. 2019, §2.2): next (0),
  previous (1) or random (2).
* ``sd`` — ERNIE 2.0's sentence distance (Sun et al. 2020, §4.2.3): adjacent (0), same
  document but not adjacent (1), or another document (2).

The pairs and their labels are built by :mod:`lmlab.data.pairs` (``data.batching: pairs``);
this file holds the classifier (BERT's pooler: dense + tanh on ``[CLS]``, then a linear
layer) and the loss. With an MLM objective in the same run both losses are computed from
one forward pass of the corrupted pair (the BERT pre-training loss, §A.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.pairs import PAIR_TASKS
from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, shared_forward


@dataclass
class SentencePairConfig(ConfigDefaults):
    name: Literal["nsp", "sop", "sso", "sd"] = "nsp"
    weight: float = 1.0

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        if run_config.data.batching != "pairs":
            raise ConfigError(f"{path}: {self.name} needs data.batching: pairs")
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: {self.name} needs a bidirectional encoder")
        if run_config.model.embedding.num_segments < 2:
            raise ConfigError(f"{path}: {self.name} needs model.embedding.num_segments >= 2")
        pair_objectives = [o.name for o in run_config.objectives if o.name in PAIR_TASKS]
        if len(pair_objectives) > 1:
            raise ConfigError(f"{path}: one sentence-pair objective per run, got {pair_objectives}")


class PairClassifier(nn.Module):
    def __init__(self, hidden_size: int, num_classes: int):
        super().__init__()
        self.pooler = nn.Linear(hidden_size, hidden_size)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, cls_hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.tanh(self.pooler(cls_hidden)))  # (B, classes)


class SentencePairObjective(StatelessObjective):
    """No corruption of its own: the pair and its label come from the batching."""

    def heads(self, model_config, embedding) -> dict:
        return {self.config.name: PairClassifier(model_config.embedding.hidden_size,
                                                 PAIR_TASKS[self.config.name])}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        logits = model.heads[self.config.name](output.hidden[:, 0])  # (B, classes)
        labels = batch["pair_labels"]
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy})
