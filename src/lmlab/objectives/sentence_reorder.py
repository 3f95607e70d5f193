"""ERNIE 2.0's sentence reordering task (Sun et al. 2020, §4.2.2).

"A given paragraph is randomly split into 1 to m segments and then all of the
combinations are shuffled by a random permuted order"; the model recovers the order, a
k-class problem with k = Σ_{n=1}^{m} n! (m = 3: 1 + 2 + 6 = 9 classes).

The rule implemented, per row: the paragraph is the row's uncorrupted ordinary tokens —
segment A of a sentence-pair batch (a run of consecutive sentences), the whole block
otherwise — cut to at most ``seq_len - 1 - max_segments`` tokens. n is drawn uniformly in
1..min(m, length); the n - 1 cut points are n - 1 distinct positions in 1..length-1,
drawn uniformly; the order is one of the n! permutations, drawn uniformly (the identity
included). The input is ``[CLS] s_p(0) [SEP] s_p(1) [SEP] … [SEP]`` with segment ids 0,
and the class is ``offset(n) + index of p`` among ``itertools.permutations(range(n))``
(offset(1) = 0, offset(2) = 1, offset(3) = 3). A row with no ordinary token is ignored.

The reordered rows need their own forward pass (the shared one reads the pair). They get
task id ``task_id`` when the model has ERNIE 2.0 task embeddings (``model.embedding.
num_tasks``). Classifier: BERT's pooler + linear on ``[CLS]``. Randomness is seeded by
(seed, example id), so resume is exact. It reads the text before any other corruption:
list it before ``mlm`` and ``cap``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, LossOutput, StatelessObjective,
                                   row_generator)
from lmlab.objectives.sentence_pair import PairClassifier

_STREAM = 13  # a generator stream apart from the masks'
_INPUT_CORRUPTERS = ("mlm", "cap", "wso")


@dataclass
class SentenceReorderConfig(ConfigDefaults):
    name: Literal["reorder"] = "reorder"
    weight: float = 1.0
    max_segments: int = 3
    """m: a paragraph is cut into 1..m segments (ERNIE 2.0: up to m; lmlab allows 1..4)."""
    task_id: int = 1
    """The task embedding of the reordered rows (used when model.embedding.num_tasks > 0)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not 1 <= self.max_segments <= 4:
            raise ConfigError(f"{path}.max_segments: must be in 1..4, got {self.max_segments}")
        if self.task_id < 0:
            raise ConfigError(f"{path}.task_id: must be >= 0")

    def check_compatible(self, run_config, path: str) -> None:
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: reorder needs a bidirectional encoder")
        tasks = run_config.model.embedding.num_tasks
        if tasks and self.task_id >= tasks:
            raise ConfigError(f"{path}.task_id: {self.task_id} is not a task of "
                              f"model.embedding.num_tasks={tasks}")
        names = [o.name for o in run_config.objectives]
        late = [n for n in _INPUT_CORRUPTERS if n in names[:names.index("reorder")]]
        if late:
            raise ConfigError(f"{path}: reorder reads the uncorrupted text; list it before "
                              f"{', '.join(late)}")

    def describe(self) -> str:
        return f"reorder (m={self.max_segments})"


def num_classes(max_segments: int) -> int:
    """Σ_{n=1}^{m} n!: 9 for m = 3."""
    return sum(math.factorial(n) for n in range(1, max_segments + 1))


def class_offset(segments: int) -> int:
    return num_classes(segments - 1) if segments > 1 else 0


def reorder_row(tokens: list[int], max_segments: int, generator: torch.Generator,
                cls_id: int, sep_id: int) -> tuple[list[int], int]:
    """One paragraph -> (``[CLS] s_p(0) [SEP] …`` ids, class)."""
    length = len(tokens)
    count = int(torch.randint(1, min(max_segments, length) + 1, (1,), generator=generator))
    cuts = sorted((torch.randperm(length - 1, generator=generator)[: count - 1] + 1).tolist())
    bounds = [0, *cuts, length]
    pieces = [tokens[bounds[i]: bounds[i + 1]] for i in range(count)]
    orders = list(itertools.permutations(range(count)))
    choice = int(torch.randint(len(orders), (1,), generator=generator))
    ids = [cls_id]
    for piece in orders[choice]:
        ids += [*pieces[piece], sep_id]
    return ids, class_offset(count) + choice


class SentenceReorderObjective(StatelessObjective):
    def __init__(self, config: SentenceReorderConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.cls_id, self.sep_id, self.pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
        self.num_special = tokenizer.num_special

    def heads(self, model_config, embedding) -> dict:
        return {"reorder": PairClassifier(model_config.embedding.hidden_size,
                                          num_classes(self.config.max_segments))}

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]  # (B, T), uncorrupted
        keep = ids >= self.num_special
        if "segments" in batch:
            keep &= batch["segments"] == 0
        room = ids.shape[1] - 1 - self.config.max_segments
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        rows, labels = [], []
        for row, example in enumerate(example_ids.tolist()):
            tokens = ids[row][keep[row]].tolist()[:room]
            if not tokens:
                rows.append([self.cls_id, self.sep_id])
                labels.append(IGNORE)
                continue
            generator = row_generator(self.seed, -1, example, _STREAM)
            new, label = reorder_row(tokens, self.config.max_segments, generator,
                                     self.cls_id, self.sep_id)
            rows.append(new)
            labels.append(label)
        width = max(len(r) for r in rows)
        reordered = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(reordered)
        for row, new in enumerate(rows):
            reordered[row, : len(new)] = torch.tensor(new)
            mask[row, : len(new)] = 1
        return {**batch, "reorder_ids": reordered, "reorder_mask": mask,
                "reorder_labels": torch.tensor(labels)}

    def loss(self, model, batch: dict) -> LossOutput:
        ids, labels = batch["reorder_ids"], batch["reorder_labels"]
        extra = {}
        if getattr(model.embedding, "tasks", None) is not None:
            extra["tasks"] = torch.full((ids.shape[0],), self.config.task_id,
                                        dtype=torch.long, device=ids.device)
        output = model(ids, batch["reorder_mask"], torch.zeros_like(ids), **extra)
        logits = model.heads["reorder"](output.hidden[:, 0])  # (B, classes)
        loss = F.cross_entropy(logits, labels, ignore_index=IGNORE)
        chosen = labels != IGNORE
        accuracy = (logits.argmax(-1)[chosen] == labels[chosen]).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy})
