"""Masked language modelling (Devlin et al. 2019, §3.1 "Task #1" and Appendix A.1).

Corruption: choose ``round(mask_rate * n)`` of the n maskable (non-special) positions of
each sequence (at least one); replace 80% of them with ``[MASK]``, 10% with a random
ordinary token, keep 10%; predict the original token at every chosen position.

* static masking (BERT): the choice depends only on (seed, example id): an example is
  masked the same way every epoch;
* dynamic masking (RoBERTa, Liu et al. 2019 §4.1): it also depends on the step, so every
  presentation is masked anew.

Both are pure functions of the batch, so resuming a run re-creates the same masks. The
vocabulary projection is computed at the chosen positions only (as fairseq does), which
is most of the MLM speed-up over projecting every position.

Units that depend on the text, not on the vocabulary — Chinese words found by jieba
(``word_boundaries: jieba``, Cui et al.) and ERNIE's phrase/entity spans (``unit: spans``,
Sun et al. 2019) — come with the batch as ``unit_marks`` (B, T), computed once per token
store by :mod:`lmlab.data.unit_marks`; the corruption only reads them.
``prepare_inputs`` also returns ``mlm_units`` (B, T): the unit (span) index of every
chosen position, -1 elsewhere, which SpanBERT's span-boundary objective reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.data.batching import IGNORE
from lmlab.data.tokenizers import word_start_table
from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput, StatelessObjective,
                                   held_out_blocks, language_ids, perplexity_summary, row_generator,
                                   shared_forward)
from lmlab.objectives.masking_units import choose_spans, choose_tokens, choose_whole_words


@dataclass
class MaskedLMConfig(ConfigDefaults):
    name: Literal["mlm"] = "mlm"
    weight: float = 1.0
    mask_rate: float = 0.15
    replace_with_mask: float = 0.8
    replace_with_random: float = 0.1
    masking: Literal["static", "dynamic"] = "dynamic"
    unit: Literal["token", "whole_word", "span", "spans"] = "token"
    """What is chosen together (:mod:`lmlab.objectives.masking_units`): tokens (BERT), whole
    words (BERT-wwm), geometric spans of words (SpanBERT) or ERNIE 1.0's knowledge units:
    the phrase/entity spans of ``span_file``, else single words (``spans``)."""
    span_p: float = 0.2
    max_span: int = 10
    word_boundaries: Literal["vocab", "jieba"] = "vocab"
    """Where words come from: the vocabulary (WordPiece ``##`` continuations, BPE/Unigram
    word-start markers; word-level: every token) or jieba's segmentation of the text,
    computed once per token store (Chinese BERT-wwm, Cui et al. 2019)."""
    span_file: str = ""
    """``unit: spans`` only: a UTF-8 file of phrases/entities, one per line (optionally
    ``phrase<TAB>type``), matched against the tokenised corpus once per token store
    (:mod:`lmlab.data.span_dictionary`). A relative path is looked up under the current
    folder, then ``$LMLAB_DATA``, then the package presets (``lmlab/configs/``)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not 0.0 < self.mask_rate < 1.0:
            raise ConfigError(f"{path}.mask_rate: must be in (0, 1), got {self.mask_rate}")
        for name in ("replace_with_mask", "replace_with_random"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{path}.{name}: must be in [0, 1]")
        if self.replace_with_mask + self.replace_with_random > 1.0:
            raise ConfigError(f"{path}: replace_with_mask + replace_with_random must be <= 1")
        if not 0.0 < self.span_p <= 1.0:
            raise ConfigError(f"{path}.span_p: must be in (0, 1]")
        if self.max_span < 1:
            raise ConfigError(f"{path}.max_span: must be >= 1")
        if self.unit == "spans" and not self.span_file:
            raise ConfigError(f"{path}.span_file: unit 'spans' (ERNIE knowledge masking) needs "
                              f"a span_file of phrases/entities, one per line")
        if self.span_file and self.unit != "spans":
            raise ConfigError(f"{path}.span_file: only used with unit: spans (got unit: {self.unit})")
        if self.word_boundaries == "jieba" and self.unit not in ("whole_word", "span"):
            raise ConfigError(f"{path}.word_boundaries: jieba words need unit: whole_word or span")

    def unit_source(self) -> tuple[str, str] | None:
        """What the token store must annotate once for this corruption, if anything:
        ("jieba", "") or ("spans", span_file)."""
        if self.unit == "spans":
            return ("spans", self.span_file)
        if self.word_boundaries == "jieba":
            return ("jieba", "")
        return None

    def describe(self) -> str:
        details = [value for value in (self.unit, self.masking) if value != "token"]
        return f"{self.name} ({', '.join(details)})"

    def check_compatible(self, run_config, path: str) -> None:
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: mlm needs a bidirectional encoder; set "
                              f"model.encoder.mask: bidirectional")
        if run_config.data.batching not in ("blocks", "pairs"):
            raise ConfigError(f"{path}: mlm needs data.batching: blocks (or pairs, with a "
                              f"sentence-pair objective)")


def _choose(candidates, starts_word, config: MaskedLMConfig, generator):
    if config.unit in ("whole_word", "spans"):  # ERNIE: a unit is a span or a word
        return choose_whole_words(candidates, starts_word, config.mask_rate, generator)
    if config.unit == "span":
        return choose_spans(candidates, starts_word, config.mask_rate, generator,
                            config.span_p, config.max_span)
    return choose_tokens(candidates, config.mask_rate, generator)


def mask_tokens(ids: torch.Tensor, maskable: torch.Tensor, generators: list[torch.Generator],
                config: MaskedLMConfig, mask_id: int, random_low: int,
                random_high: int, starts_word: torch.Tensor | None = None,
                position_starts: torch.Tensor | None = None, return_units: bool = False):
    """ids, maskable: (B, T); starts_word: (V,) bool per vocabulary id (None: every token
    starts a word); position_starts: (B, T) bool per position, which wins over
    ``starts_word`` (units from the text: jieba words, ERNIE spans). Returns (corrupted
    ids, labels with -100 where not chosen) and, with ``return_units``, the unit index of
    every chosen position (B, T), -1 elsewhere."""
    corrupted, labels = ids.clone(), torch.full_like(ids, IGNORE)
    unit_ids = torch.full_like(ids, -1)
    for row, generator in enumerate(generators):
        candidates = maskable[row].nonzero().squeeze(1)  # (n,)
        if candidates.numel() == 0:
            continue
        if position_starts is not None:
            word_starts = position_starts[row, candidates]
        elif starts_word is None:
            word_starts = torch.ones(candidates.numel(), dtype=torch.bool)
        else:
            word_starts = starts_word[ids[row, candidates]]
        chosen, units = _choose(candidates, word_starts, config, generator)  # (count,), (count,)
        count = chosen.numel()
        labels[row, chosen] = ids[row, chosen]
        unit_ids[row, chosen] = units
        # One 80/10/10 decision per unit: per token (BERT, wwm) or per span (SpanBERT).
        action = torch.rand(int(units.max()) + 1, generator=generator)[units]
        random_tokens = torch.randint(random_low, random_high, (count,), generator=generator)
        to_mask = action < config.replace_with_mask
        to_random = (~to_mask) & (action < config.replace_with_mask + config.replace_with_random)
        corrupted[row, chosen[to_mask]] = mask_id
        corrupted[row, chosen[to_random]] = random_tokens[to_random]
    if return_units:
        return corrupted, labels, unit_ids
    return corrupted, labels


def position_word_starts(marks: torch.Tensor, ids: torch.Tensor,
                         starts_word: torch.Tensor | None) -> torch.Tensor:
    """(B, T) bool word starts from stored unit marks (0 outside any unit, 1 starts one,
    2 continues it; :mod:`lmlab.data.unit_marks`): a marked unit is one word; an unmarked
    position falls back to the vocabulary's word starts (ERNIE's basic level)."""
    vocab = (torch.ones_like(ids, dtype=torch.bool) if starts_word is None
             else starts_word[ids])
    return (marks == 1) | ((marks == 0) & vocab)


class MaskedLMObjective(StatelessObjective):
    """BERT's cloze; held out, masked-token perplexity under a static, fixed-seed masking
    of ``[CLS] … [SEP]`` blocks with the run's corruption settings."""

    evaluation_kind = "masked"

    def __init__(self, config: MaskedLMConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.mask_id = tokenizer.mask_id
        self.num_special = tokenizer.num_special
        self.vocab_size = tokenizer.vocab_size
        self.tokenizer = tokenizer  # its [CLS]/[SEP] wrap held-out blocks
        self.starts_word = (word_start_table(tokenizer) if config.unit != "token" else None)

    def choose(self, batch: dict, return_units: bool = False, static: bool = False):
        """(corrupted ids, labels) [+ unit ids with ``return_units``], all (B, T).

        Text-derived units (jieba words, ERNIE spans) are read from ``batch["unit_marks"]``;
        a batch without them (a caller that passes bare ids) falls back to the
        vocabulary's word starts. ``static`` masks by example only, whatever the config."""
        ids = batch["input_ids"]
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        dynamic = self.config.masking == "dynamic" and not static
        step = batch.get("step", 0) if dynamic else -1
        generators = [row_generator(self.seed, step, int(e)) for e in example_ids]
        maskable = ids >= self.num_special
        if "attention_mask" in batch:
            maskable &= batch["attention_mask"].bool()
        marks = batch.get("unit_marks") if self.config.unit_source() else None
        position_starts = (None if marks is None
                           else position_word_starts(marks, ids, self.starts_word))
        return mask_tokens(ids, maskable, generators, self.config, self.mask_id,
                           self.num_special, self.vocab_size, self.starts_word,
                           position_starts, return_units)

    def corrupt(self, batch: dict, static: bool = False) -> dict:
        """The batch with masked ``input_ids``, ``mlm_labels`` and ``mlm_units`` (the span
        index of each chosen position, -1 elsewhere)."""
        corrupted, labels, units = self.choose(batch, return_units=True, static=static)
        return {**batch, "input_ids": corrupted, "mlm_labels": labels, "mlm_units": units}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        labels = batch["mlm_labels"]
        chosen = labels != IGNORE  # (B, T)
        targets = labels[chosen]  # (N,): chosen positions only
        loss = model.lm_head.loss(output.hidden[chosen], targets)
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(chosen.sum())})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        for batch in held_out_blocks(ids, settings, self.tokenizer):  # masked here, on the CPU
            corrupted, labels = self.choose(batch, static=True)
            yield {**batch, "masked_ids": corrupted, "masked_labels": labels}

    def evaluate(self, model, batch: dict) -> dict:
        labels = batch["masked_labels"]
        hidden = model(batch["masked_ids"], **language_ids(batch)).hidden
        chosen = labels != IGNORE
        logits = model.lm_head(hidden[chosen])
        nll = F.cross_entropy(logits, labels[chosen], reduction="sum")
        return {"nll": nll.item(), "tokens": int(chosen.sum())}

    def summarize(self, totals: dict) -> dict:
        return perplexity_summary(totals, "masked")

