"""Translation language modelling (XLM, Lample & Conneau 2019, §3.3 and Fig. 2).

A parallel pair is one sequence ``[CLS] source [SEP] target [SEP]``; positions restart at 0
for the target sentence, every token carries its sentence's language id (the embedding
adds a language vector, §3.1), and BERT's masking (15 %, 80/10/10; Devlin et al. 2019
§3.1) is applied over both sentences at once, so a masked English word can be predicted
from the Chinese context and the reverse. The loss is the MLM loss at the masked
positions; the masking is :func:`lmlab.objectives.mlm.mask_tokens` itself.

Data: the pairs of ``parallel`` (:mod:`lmlab.crosslingual.parallel`) less the fixed
held-out pairs, which only the held-out measure reads (masked-token perplexity on them,
static masks). TLM brings its own batch, built from the run's batch ``step`` (a seeded
permutation of the training pairs per pass): ``corrupt`` adds ``tlm_*`` keys beside the
run's MLM batch, as XLM alternates MLM and TLM batches; the loss is a second forward pass.
Pairs always come source first (the paper also trains the other order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.crosslingual.parallel import read_pairs, split_pairs
from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.objectives.base import (EVALUATION_SEED, ConfigDefaults, LossOutput,
                                   StatelessObjective, perplexity_summary, row_generator)
from lmlab.objectives.mlm import MaskedLMConfig, mask_tokens
from lmlab.objectives.parallel_stream import check_pair_compatible

TLM_STREAM = 24
"""The generator stream of TLM's masks, apart from any other objective's."""


@dataclass
class TranslationLMConfig(ConfigDefaults):
    name: Literal["tlm"] = "tlm"
    weight: float = 1.0
    parallel: str = "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"
    """``pairs.txt`` (``source<TAB>target`` a line) or ``a.en,a.zh`` (two aligned files);
    a relative path is looked up here, then under ``$LMLAB_DATA``."""
    held_out: int = 500
    """Pairs kept out (seeded, fixed) for retrieval and TLM's held-out perplexity."""
    source_language: int = 0
    target_language: int = 1
    """Language ids (``model.embedding.num_languages``) of the two sides."""
    mask_rate: float = 0.15
    replace_with_mask: float = 0.8
    replace_with_random: float = 0.1

    def masking(self) -> MaskedLMConfig:
        """BERT's token-level corruption with these rates (static: a pair and step fix it)."""
        return MaskedLMConfig(mask_rate=self.mask_rate, replace_with_mask=self.replace_with_mask,
                              replace_with_random=self.replace_with_random)

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not self.parallel:
            raise ConfigError(f"{path}.parallel: a file of parallel pairs is required")
        if self.held_out < 1:
            raise ConfigError(f"{path}.held_out: must be >= 1")
        self.masking().validate(path)

    def check_compatible(self, run_config, path: str) -> None:
        count = check_pair_compatible(self, run_config, path, "tlm")
        for i, corpus in enumerate(run_config.data.datasets if run_config.data.dataset == "mix"
                                   else []):
            if not 0 <= corpus.language < count:
                raise ConfigError(f"data.datasets.{i}.language: language id {corpus.language} "
                                  f"is not in the config (model.embedding.num_languages={count})")


def pair_sequence(source: list[int], target: list[int], cls_id: int, sep_id: int,
                  languages: tuple[int, int], max_len: int):
    """(ids, positions, language ids) of ``[CLS] source [SEP] target [SEP]``, each side cut
    to fit ``max_len``; positions restart at 0 for the target (XLM Fig. 2)."""
    budget = max_len - 3
    source_len = min(len(source), max(budget // 2, budget - len(target)))
    target = target[: budget - source_len]
    first = [cls_id, *source[:source_len], sep_id]
    second = [*target, sep_id]
    positions = [*range(len(first)), *range(len(second))]
    language_ids = [languages[0]] * len(first) + [languages[1]] * len(second)
    return first + second, positions, language_ids


def pair_batch(pairs: list[tuple[list[int], list[int]]], tokenizer, languages: tuple[int, int],
               max_len: int) -> dict:
    """``tlm_input_ids``, ``tlm_positions``, ``tlm_languages``, ``tlm_attention_mask`` (B, T),
    padded to the longest pair, and ``tlm_maskable`` (B, T): ordinary tokens of both sides."""
    rows = [pair_sequence(s, t, tokenizer.cls_id, tokenizer.sep_id, languages, max_len)
            for s, t in pairs]
    length = max(len(ids) for ids, _, _ in rows)
    ids = torch.full((len(rows), length), tokenizer.pad_id, dtype=torch.long)
    positions, language_ids, mask = (torch.zeros_like(ids) for _ in range(3))
    for row, (tokens, places, langs) in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        positions[row, : len(tokens)] = torch.tensor(places)
        language_ids[row, : len(tokens)] = torch.tensor(langs)
        mask[row, : len(tokens)] = 1
    maskable = (ids >= tokenizer.num_special) & mask.bool()
    return {"tlm_input_ids": ids, "tlm_positions": positions, "tlm_languages": language_ids,
            "tlm_attention_mask": mask, "tlm_maskable": maskable}


class TranslationLMObjective(StatelessObjective):
    """XLM's TLM; held out, masked-token perplexity of the held-out pairs (static masks)."""

    evaluation_kind = "masked"

    def __init__(self, config: TranslationLMConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.tokenizer = tokenizer
        self.masking = config.masking()
        self.languages = (config.source_language, config.target_language)
        self._pairs: dict[str, list] = {}

    def pairs(self, part: str) -> list[tuple[list[int], list[int]]]:
        """Token ids of the ``train`` or ``held_out`` pairs, read and encoded once."""
        if not self._pairs:
            train, held_out = split_pairs(read_pairs(self.config.parallel), self.config.held_out)
            for name, chosen in (("train", train), ("held_out", held_out)):
                sources = self.tokenizer.encode_batch([p.source for p in chosen])
                targets = self.tokenizer.encode_batch([p.target for p in chosen])
                self._pairs[name] = list(zip(sources, targets))
        return self._pairs[part]

    def prepare(self, model, train_ids) -> None:
        self.pairs("train")  # a bad parallel file fails before training starts

    def _mask(self, batch: dict, generators) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(batch["tlm_input_ids"], batch["tlm_maskable"], generators,
                           self.masking, self.tokenizer.mask_id, self.tokenizer.num_special,
                           self.tokenizer.vocab_size)

    def corrupt(self, batch: dict) -> dict:
        """Adds the masked TLM batch of this step: as many pairs as the run's batch has rows,
        the k-th pair read overall being pair order_e[k mod n] of pass e = k // n."""
        rows, step = batch["input_ids"].shape[0], int(batch.get("step", 0))
        train = self.pairs("train")
        chosen = []
        for k in range(step * rows, (step + 1) * rows):
            epoch, index = divmod(k, len(train))
            order = np.random.default_rng([self.seed, TLM_STREAM, epoch]).permutation(len(train))
            chosen.append(int(order[index]))
        # As long as the run's rows (data.seq_len for blocks and pairs).
        tlm = pair_batch([train[i] for i in chosen], self.tokenizer, self.languages,
                         batch["input_ids"].shape[1])
        generators = [row_generator(self.seed, step, i, TLM_STREAM) for i in chosen]
        tlm["tlm_input_ids"], tlm["tlm_labels"] = self._mask(tlm, generators)
        return {**batch, **tlm}

    def loss(self, model, batch: dict) -> LossOutput:
        output = model(batch["tlm_input_ids"], batch["tlm_attention_mask"],
                       positions=batch["tlm_positions"], languages=batch["tlm_languages"])
        labels = batch["tlm_labels"]
        chosen = labels != IGNORE  # (B, T)
        loss = model.lm_head.loss(output.hidden[chosen], labels[chosen])
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(chosen.sum())})

    def evaluation_batches(self, model, ids, settings):
        """The held-out pairs in order (the split's ``ids`` are not read), static masks."""
        held_out = self.pairs("held_out")
        read = 0
        for first in range(0, len(held_out), settings.batch_size):
            chunk = range(first, min(first + settings.batch_size, len(held_out)))
            batch = pair_batch([held_out[i] for i in chunk], self.tokenizer, self.languages,
                               settings.seq_len)
            generators = [row_generator(EVALUATION_SEED, 0, i, TLM_STREAM) for i in chunk]
            batch["tlm_input_ids"], batch["tlm_labels"] = self._mask(batch, generators)
            yield batch
            read += int(batch["tlm_attention_mask"].sum())
            if settings.max_tokens and read >= settings.max_tokens:
                return

    def evaluate(self, model, batch: dict) -> dict:
        labels = batch["tlm_labels"]
        hidden = model(batch["tlm_input_ids"], batch["tlm_attention_mask"],
                       positions=batch["tlm_positions"], languages=batch["tlm_languages"]).hidden
        chosen = labels != IGNORE
        nll = F.cross_entropy(model.lm_head(hidden[chosen]).float(), labels[chosen],
                              reduction="sum")
        return {"nll": nll.item(), "tokens": int(chosen.sum())}

    def summarize(self, totals: dict) -> dict:
        return perplexity_summary(totals, "masked")
