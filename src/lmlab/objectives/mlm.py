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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import LossOutput

IGNORE = -100


@dataclass
class MaskedLMConfig:
    name: Literal["mlm"] = "mlm"
    weight: float = 1.0
    mask_rate: float = 0.15
    replace_with_mask: float = 0.8
    replace_with_random: float = 0.1
    masking: Literal["static", "dynamic"] = "dynamic"

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

    def check_compatible(self, run_config, path: str) -> None:
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: mlm needs a bidirectional encoder; set "
                              f"model.encoder.mask: bidirectional")
        if run_config.data.batching != "blocks":
            raise ConfigError(f"{path}: mlm needs data.batching: blocks")


def _row_generator(*seed_parts: int) -> torch.Generator:
    # A small, stable mix of the parts into one 63-bit seed.
    seed = 0x9E3779B97F4A7C15
    for part in seed_parts:
        seed = (seed * 6364136223846793005 + int(part) + 1442695040888963407) % (1 << 63)
    return torch.Generator().manual_seed(seed)


def mask_tokens(ids: torch.Tensor, maskable: torch.Tensor, generators: list[torch.Generator],
                config: MaskedLMConfig, mask_id: int, random_low: int,
                random_high: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids, maskable: (B, T). Returns (corrupted ids, labels with -100 where not chosen)."""
    corrupted, labels = ids.clone(), torch.full_like(ids, IGNORE)
    for row, generator in enumerate(generators):
        candidates = maskable[row].nonzero().squeeze(1)  # (n,)
        if candidates.numel() == 0:
            continue
        count = max(1, round(config.mask_rate * candidates.numel()))
        order = torch.randperm(candidates.numel(), generator=generator)[:count]
        chosen = candidates[order]  # (count,)
        labels[row, chosen] = ids[row, chosen]
        action = torch.rand(count, generator=generator)
        random_tokens = torch.randint(random_low, random_high, (count,), generator=generator)
        to_mask = action < config.replace_with_mask
        to_random = (~to_mask) & (action < config.replace_with_mask + config.replace_with_random)
        corrupted[row, chosen[to_mask]] = mask_id
        corrupted[row, chosen[to_random]] = random_tokens[to_random]
    return corrupted, labels


class MaskedLMObjective:
    causal = False

    def __init__(self, config: MaskedLMConfig, tokenizer):
        self.config = config
        self.mask_id = tokenizer.mask_id
        self.num_special = tokenizer.num_special
        self.vocab_size = tokenizer.vocab_size
        self.seed = 0

    def corrupt(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        ids = batch["input_ids"]
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        step = batch.get("step", 0) if self.config.masking == "dynamic" else -1
        generators = [_row_generator(self.seed, step, int(e)) for e in example_ids]
        maskable = ids >= self.num_special
        if "attention_mask" in batch:
            maskable &= batch["attention_mask"].bool()
        return mask_tokens(ids, maskable, generators, self.config, self.mask_id,
                           self.num_special, self.vocab_size)

    def __call__(self, model, batch: dict) -> LossOutput:
        corrupted, labels = self.corrupt(batch)
        output = model(corrupted, batch.get("attention_mask"), batch.get("segments"))
        chosen = labels != IGNORE  # (B, T)
        targets = labels[chosen]  # (N,): chosen positions only
        loss = model.lm_head.loss(output.hidden[chosen], targets)
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(chosen.sum())})

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
