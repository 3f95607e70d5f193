"""Cross-lingual masked language model (Unicoder, Huang et al. 2019, §3.3).

Unicoder builds cross-lingual documents: in a document with a translation, sentences are
replaced by their translations, so one sequence switches language from sentence to
sentence, and MLM runs over it. The pairs here have no documents, so a row takes
``pairs_per_row`` consecutive pairs of the step's seeded order, each sentence in English
or in Chinese by a coin of its generator: ``[CLS] s1 [SEP] s2 [SEP] …`` cut to the row
length, positions running through, every token its sentence's language id, then BERT's
masking (15 %, 80/10/10) by :func:`lmlab.objectives.mlm.mask_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import IGNORE, LossOutput, StatelessObjective, row_generator
from lmlab.objectives.mlm import MaskedLMConfig, mask_tokens
from lmlab.objectives.parallel_stream import ParallelStream, ParallelStreamConfig

CROSS_MLM_STREAM = 27


@dataclass
class CrossMLMConfig(ParallelStreamConfig):
    name: Literal["xmlm"] = "xmlm"
    pairs_per_row: int = 4
    """Pairs (one sentence of each, in either language) concatenated into one row."""
    mask_rate: float = 0.15

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.pairs_per_row < 1:
            raise ConfigError(f"{path}.pairs_per_row: must be >= 1")
        MaskedLMConfig(mask_rate=self.mask_rate).validate(path)


def switched_row(sentences: list[list[int]], languages: list[int], cls_id: int, sep_id: int,
                 max_len: int) -> tuple[list[int], list[int]]:
    """(ids, language ids) of ``[CLS] s1 [SEP] s2 [SEP] …`` cut to ``max_len`` (a cut row
    still ends in ``[SEP]``); [CLS] takes the first sentence's language, each [SEP] its
    sentence's."""
    ids, langs = [cls_id], [languages[0]]
    for sentence, language in zip(sentences, languages):
        room = max_len - len(ids) - 1
        if room <= 0:
            break
        piece = [*sentence[:room], sep_id]
        ids += piece
        langs += [language] * len(piece)
    return ids, langs


class CrossMLMObjective(StatelessObjective):
    """Unicoder's cross-lingual MLM; auxiliary (the run's MLM gives the held-out measure)."""

    def __init__(self, config: CrossMLMConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer
        self.stream = ParallelStream(config, tokenizer, seed, CROSS_MLM_STREAM)
        self.languages = (config.source_language, config.target_language)
        self.masking = MaskedLMConfig(mask_rate=config.mask_rate)

    def prepare(self, model, train_ids) -> None:
        self.stream.train()

    def rows(self, step: int, count: int, max_len: int) -> dict:
        train, per_row = self.stream.train(), self.config.pairs_per_row
        chosen = self.stream.chosen(step, count * per_row)
        rows, generators = [], []
        for row in range(count):
            indices = chosen[row * per_row: (row + 1) * per_row]
            generator = row_generator(self.seed, step, row, CROSS_MLM_STREAM)
            sides = torch.randint(2, (per_row,), generator=generator).tolist()
            rows.append(switched_row([train[i][side] for i, side in zip(indices, sides)],
                                     [self.languages[side] for side in sides],
                                     self.tokenizer.cls_id, self.tokenizer.sep_id, max_len))
            generators.append(generator)
        length = max(len(ids) for ids, _ in rows)
        ids = torch.full((count, length), self.tokenizer.pad_id, dtype=torch.long)
        languages, attention = torch.zeros_like(ids), torch.zeros_like(ids)
        for i, (row_ids, row_langs) in enumerate(rows):
            ids[i, : len(row_ids)] = torch.tensor(row_ids)
            languages[i, : len(row_ids)] = torch.tensor(row_langs)
            attention[i, : len(row_ids)] = 1
        maskable = (ids >= self.tokenizer.num_special) & attention.bool()
        corrupted, labels = mask_tokens(ids, maskable, generators, self.masking,
                                        self.tokenizer.mask_id, self.tokenizer.num_special,
                                        self.tokenizer.vocab_size)
        return {"xmlm_input_ids": corrupted, "xmlm_labels": labels,
                "xmlm_languages": languages, "xmlm_attention_mask": attention}

    def corrupt(self, batch: dict) -> dict:
        rows, length = batch["input_ids"].shape
        return {**batch, **self.rows(int(batch.get("step", 0)), rows, length)}

    def loss(self, model, batch: dict) -> LossOutput:
        hidden = model(batch["xmlm_input_ids"], batch["xmlm_attention_mask"],
                       languages=batch["xmlm_languages"]).hidden
        labels = batch["xmlm_labels"]
        chosen = labels != IGNORE  # (B, T)
        loss = model.lm_head.loss(hidden[chosen], labels[chosen])
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(chosen.sum())})
