"""Cross-lingual paraphrase classification (Unicoder, Huang et al. 2019, §3.2).

A row is ``[CLS] X [SEP] Y' [SEP]`` with X in one language and Y' in the other
(:func:`lmlab.objectives.tlm.pair_sequence`: positions restart for Y', each side its
language id); Y' is X's own translation (label 1) or the translation of another training
pair (label 0), half and half by a coin of the row's generator. The paper mines hard
negatives with a retrieval model; here negatives are random pairs (easier). The classifier
is BERT's pooler + a linear layer on ``[CLS]`` (:class:`PairClassifier`), cross-entropy loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.objectives.base import LossOutput, StatelessObjective, row_generator
from lmlab.objectives.parallel_stream import ParallelStream, ParallelStreamConfig
from lmlab.objectives.sentence_pair import PairClassifier
from lmlab.objectives.tlm import pair_batch

PARAPHRASE_STREAM = 26


@dataclass
class ParaphraseConfig(ParallelStreamConfig):
    name: Literal["xpc"] = "xpc"


def paraphrase_choice(generator: torch.Generator, index: int, count: int) -> tuple[int, int]:
    """(label, index of the target side): (1, index) or (0, another pair's index), each
    with probability 1/2."""
    if int(torch.randint(2, (1,), generator=generator)) == 1:
        return 1, index
    other = int(torch.randint(count - 1, (1,), generator=generator))
    return 0, other + (other >= index)  # any pair but this one


class ParaphraseObjective(StatelessObjective):
    """Unicoder's paraphrase classification; auxiliary (no held-out measure of its own)."""

    def __init__(self, config: ParaphraseConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer
        self.stream = ParallelStream(config, tokenizer, seed, PARAPHRASE_STREAM)
        self.languages = (config.source_language, config.target_language)

    def heads(self, model_config, embedding) -> dict:
        return {self.config.name: PairClassifier(model_config.embedding.hidden_size, 2)}

    def prepare(self, model, train_ids) -> None:
        self.stream.train()

    def rows(self, step: int, count: int, max_len: int) -> dict:
        train = self.stream.train()
        pairs, labels = [], []
        for index in self.stream.chosen(step, count):
            generator = row_generator(self.seed, step, index, PARAPHRASE_STREAM)
            label, other = paraphrase_choice(generator, index, len(train))
            pairs.append((train[index][0], train[other][1]))
            labels.append(label)
        batch = pair_batch(pairs, self.tokenizer, self.languages, max_len)
        return {"xpc_input_ids": batch["tlm_input_ids"], "xpc_positions": batch["tlm_positions"],
                "xpc_languages": batch["tlm_languages"],
                "xpc_attention_mask": batch["tlm_attention_mask"],
                "xpc_labels": torch.tensor(labels)}

    def corrupt(self, batch: dict) -> dict:
        rows, length = batch["input_ids"].shape
        return {**batch, **self.rows(int(batch.get("step", 0)), rows, length)}

    def loss(self, model, batch: dict) -> LossOutput:
        hidden = model(batch["xpc_input_ids"], batch["xpc_attention_mask"],
                       positions=batch["xpc_positions"], languages=batch["xpc_languages"]).hidden
        logits = model.heads[self.config.name](hidden[:, 0])  # (B, 2)
        labels = batch["xpc_labels"]
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy})
