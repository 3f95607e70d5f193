"""UniLM: one transformer, three language models by self-attention masks (Dong et al.
2019, §2.2–2.3, Figure 1).

Every step draws one mask kind (§2.3: bidirectional 1/3, sequence-to-sequence 1/3,
left-to-right 1/6, right-to-left 1/6) and trains the cloze (MLM) objective under it:

* ``bidirectional``: every token sees every token (BERT);
* ``left_to_right`` / ``right_to_left``: a token sees itself and the tokens before /
  after it;
* ``seq2seq``: the sequence is split into a source and a target segment; source tokens see
  the whole source only, target tokens see the source, the target tokens before them and
  themselves. The split point is drawn per example; segment ids mark it.

Padding is never attended. The kind and split come from generators seeded by
(seed, step, example), so resume is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput,
                                   StatelessObjective, row_generator, shared_forward)
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective

KINDS = ("bidirectional", "left_to_right", "right_to_left", "seq2seq")


def unilm_mask(kind: str, length: int, source_length: int = 0) -> torch.Tensor:
    """(T, T) bool, [query, key] = may attend."""
    ones = torch.ones(length, length, dtype=torch.bool)
    if kind == "bidirectional":
        return ones
    if kind == "left_to_right":
        return ones.tril()
    if kind == "right_to_left":
        return ones.triu()
    if kind == "seq2seq":
        mask = ones.tril()
        mask[:, :source_length] = True  # everyone sees the whole source...
        mask[:source_length, source_length:] = False  # ...and the source sees no target
        return mask
    raise ValueError(f"unknown UniLM mask kind {kind!r}")


@dataclass
class UniLMConfig(ConfigDefaults):
    name: Literal["unilm"] = "unilm"
    weight: float = 1.0
    mask_rate: float = 0.15
    kind_weights: list[float] = field(default_factory=lambda: [2.0, 1.0, 1.0, 2.0])
    """Relative frequency of bidirectional, left_to_right, right_to_left, seq2seq (§2.3)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if len(self.kind_weights) != 4 or min(self.kind_weights) < 0 or sum(self.kind_weights) <= 0:
            raise ConfigError(f"{path}.kind_weights: four non-negative numbers for "
                              f"{', '.join(KINDS)}")

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "name", None) != "transformer" or encoder.mask != "bidirectional":
            raise ConfigError(f"{path}: unilm needs a transformer encoder with mask: "
                              f"bidirectional (the objective supplies the masks)")
        if run_config.model.embedding.num_segments < 2:
            raise ConfigError(f"{path}: unilm needs model.embedding.num_segments >= 2")


class UniLMObjective(StatelessObjective):
    """Held out: its bidirectional LM, which is BERT's cloze (§2.2): masked-token
    perplexity with full attention, the run's mask rate and BERT's 80/10/10 corruption."""

    evaluation_kind = "masked"

    def __init__(self, config: UniLMConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.masker = MaskedLMObjective(MaskedLMConfig(mask_rate=config.mask_rate), tokenizer, seed)

    def kind_for_step(self, step: int) -> str:
        weights = torch.tensor(self.config.kind_weights, dtype=torch.float64)
        return KINDS[int(torch.multinomial(weights, 1, generator=row_generator(self.seed, step, -7)))]

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]
        batch_size, length = ids.shape
        kind = self.kind_for_step(batch.get("step", 0))
        padding = batch.get("attention_mask", torch.ones_like(ids)).bool()  # (B, T)
        masks, segments = [], torch.zeros_like(ids)
        example_ids = batch.get("example_ids", torch.arange(batch_size))
        for row in range(batch_size):
            real = int(padding[row].sum())
            source = 0
            if kind == "seq2seq":  # split point in [1, real-1], drawn per example
                generator = row_generator(self.seed, batch.get("step", 0), int(example_ids[row]), -8)
                source = int(torch.randint(1, max(2, real), (1,), generator=generator))
                segments[row, source:real] = 1
            masks.append(unilm_mask(kind, length, source) & padding[row][None, :])
        corrupted, labels = self.masker.choose(batch)
        return {**batch, "input_ids": corrupted, "mlm_labels": labels, "segments": segments,
                "attention_mask": torch.stack(masks), "unilm_kind": kind}  # mask: (B, T, T)

    def loss(self, model, batch: dict) -> LossOutput:
        result = self.masker.loss(model, batch)
        return LossOutput(result.loss, {**result.metrics,
                                        f"{batch['unilm_kind']}_loss": result.metrics["loss"]})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        return self.masker.evaluation_batches(model, ids, settings)

    def evaluate(self, model, batch: dict) -> dict:
        return self.masker.evaluate(model, batch)

    def summarize(self, totals: dict) -> dict:
        return self.masker.summarize(totals)
