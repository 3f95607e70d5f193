"""Causal language modelling: maximise sum_t log P(x_t | x_<t) (Bengio et al. 2003 eq. 1;
Radford et al. 2018 eq. 1). Works for any encoder: for recurrent ones the state is carried
from batch to batch (truncated BPTT, Zaremba et al. 2014) and reset when the batch says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import LossOutput, detach_memory
from lmlab.objectives.softmax.config import FACTORISED, SAMPLED, OutputConfig
from lmlab.objectives.softmax.output import SampledSoftmax
from lmlab.objectives.softmax.proposal import unigram_counts


@dataclass
class CausalLMConfig:
    name: Literal["clm"] = "clm"
    weight: float = 1.0
    output: OutputConfig = field(default_factory=OutputConfig)
    """How P(w|h) is trained: full softmax, a sampled loss, or a factorised output layer
    (:mod:`lmlab.objectives.softmax`). Evaluation always uses the exact distribution."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "mask", "causal") != "causal":
            raise ConfigError(f"{path}: clm needs a causal encoder; set model.encoder.mask: causal")
        if self.output.kind in FACTORISED and run_config.model.lm_head.tie_weights:
            raise ConfigError(f"{path}.output.kind: {self.output.kind} softmax uses the LM "
                              f"head's decoder for its own vectors; set "
                              f"model.lm_head.tie_weights: false")


class CausalLMObjective:
    causal = True

    def __init__(self, config: CausalLMConfig, tokenizer=None):
        self.config = config
        self.memory = None  # carried recurrent state (detached)
        self.seed = 0  # set by the trainer; sampled losses draw from (seed, step)
        self.sampler = SampledSoftmax(config.output) if config.output.kind in SAMPLED else None

    def prepare(self, model, train_ids) -> None:
        """Give the output layer the train split's unigram counts (proposal, tree, classes).
        Runs before a resumed run loads its weights, so the initialisation it may do is
        overwritten there."""
        if self.sampler is None and not hasattr(model.lm_head, "set_counts"):
            return
        counts = unigram_counts(train_ids, model.embedding.tokens.num_embeddings)  # (V,)
        if self.sampler is not None:
            self.sampler.set_counts(counts)
            self.sampler.initialise(model.lm_head)
        if hasattr(model.lm_head, "set_counts"):
            model.lm_head.set_counts(counts)

    def __call__(self, model, batch: dict) -> LossOutput:
        memory = None if (batch.get("reset_memory") or not model.recurrent) else self.memory
        output = model(batch["input_ids"], batch.get("attention_mask"), memory=memory)
        if model.recurrent:
            self.memory = detach_memory(output.memory)
        labels = batch["labels"]  # (B, T)
        extra = {}
        if self.sampler is not None and model.training:
            loss, extra = self.sampler.loss(model.lm_head, output.hidden.flatten(0, 1),
                                            labels.flatten(), self.seed, batch.get("step", 0))
        else:
            loss = model.lm_head.loss(output.hidden.flatten(0, 1), labels.flatten())
        tokens = int((labels != -100).sum())
        return LossOutput(loss, {"loss": loss.item(), "tokens": tokens, **extra})

    # The carried state is part of the trainer state, so resume is exact.
    def state_dict(self) -> dict:
        state = {f"output.{k}": v for k, v in (self.sampler.state_dict() if self.sampler else {}).items()}
        if isinstance(self.memory, torch.Tensor):  # a single-tensor state (Elman, window)
            return {**state, "memory": self.memory}
        if self.memory is None:
            return state
        return {**state, **{f"memory.{i}": tensor for i, tensor in enumerate(self.memory)}}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler is not None:
            self.sampler.load_state_dict({k[len("output."):]: v for k, v in state.items()
                                          if k.startswith("output.")})
        parts = sum(1 for key in state if key.startswith("memory."))
        self.memory = (state["memory"] if "memory" in state else
                       tuple(state[f"memory.{i}"] for i in range(parts)) if parts else None)
