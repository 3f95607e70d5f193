"""Causal language modelling: maximise sum_t log P(x_t | x_<t) (Bengio et al. 2003 eq. 1;
Radford et al. 2018 eq. 1). Works for any encoder: for recurrent ones the state is carried
from batch to batch (truncated BPTT, Zaremba et al. 2014) and reset when the batch says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lmlab.errors import ConfigError
from lmlab.objectives.base import LossOutput, detach_memory


@dataclass
class CausalLMConfig:
    name: Literal["clm"] = "clm"
    weight: float = 1.0

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "mask", "causal") != "causal":
            raise ConfigError(f"{path}: clm needs a causal encoder; set model.encoder.mask: causal")


class CausalLMObjective:
    causal = True

    def __init__(self, config: CausalLMConfig, tokenizer=None):
        self.config = config
        self.memory = None  # carried recurrent state (detached)

    def __call__(self, model, batch: dict) -> LossOutput:
        memory = None if (batch.get("reset_memory") or not model.recurrent) else self.memory
        output = model(batch["input_ids"], batch.get("attention_mask"), memory=memory)
        if model.recurrent:
            self.memory = detach_memory(output.memory)
        labels = batch["labels"]  # (B, T)
        loss = model.lm_head.loss(output.hidden.flatten(0, 1), labels.flatten())
        tokens = int((labels != -100).sum())
        return LossOutput(loss, {"loss": loss.item(), "tokens": tokens})

    # The carried state is part of the trainer state, so resume is exact.
    def state_dict(self) -> dict:
        if self.memory is None:
            return {}
        return {f"memory.{i}": tensor for i, tensor in enumerate(self.memory)}

    def load_state_dict(self, state: dict) -> None:
        self.memory = tuple(state[f"memory.{i}"] for i in range(len(state))) if state else None
