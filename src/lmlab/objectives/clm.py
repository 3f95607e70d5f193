"""Causal language modelling: maximise sum_t log P(x_t | x_<t) (Bengio et al. 2003 eq. 1;
Radford et al. 2018 eq. 1). Works for any encoder: for recurrent ones the state is carried
from batch to batch (truncated BPTT, Zaremba et al. 2014) and reset when the batch says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch.nn.functional as F

from lmlab.data.batching import IGNORE, eval_stream, eval_windows
from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput, StatelessObjective,
                                   detach_memory, language_ids, memory_from_state, memory_state,
                                   perplexity_summary)
from lmlab.objectives.softmax.config import FACTORISED, SAMPLED, OutputConfig
from lmlab.objectives.softmax.output import SampledSoftmax
from lmlab.objectives.softmax.proposal import unigram_counts


@dataclass
class CausalLMConfig(ConfigDefaults):
    name: Literal["clm"] = "clm"
    weight: float = 1.0
    output: OutputConfig = field(default_factory=OutputConfig)
    """How P(w|h) is trained: full softmax, a sampled loss, or a factorised output layer
    (:mod:`lmlab.objectives.softmax`). Evaluation always uses the exact distribution."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def describe(self) -> str:
        return self.name if self.output.kind == "full" else f"{self.name} ({self.output.kind})"

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder
        if getattr(encoder, "mask", "causal") != "causal":
            raise ConfigError(f"{path}: clm needs a causal encoder; set model.encoder.mask: causal")
        if getattr(encoder, "memory_length", 0) and run_config.data.batching != "stream":
            raise ConfigError(f"data.batching: a memory (model.encoder.memory_length="
                              f"{encoder.memory_length}) carries each row into the next "
                              f"segment of the same text; set data.batching: stream, not "
                              f"{run_config.data.batching}")
        if self.output.kind in FACTORISED and run_config.model.lm_head.tie_weights:
            raise ConfigError(f"{path}.output.kind: {self.output.kind} softmax uses the LM "
                              f"head's decoder for its own vectors; set "
                              f"model.lm_head.tie_weights: false")


class CausalLMObjective(StatelessObjective):
    """Next-token loss; held out, token-level perplexity (:mod:`lmlab.evaluation.perplexity`
    documents the windows)."""

    causal = True
    evaluation_kind = "causal"

    def __init__(self, config: CausalLMConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.memory = None  # carried recurrent state (detached), training
        self.eval_memory = None  # the same while reading a held-out stream
        self.sampler = SampledSoftmax(config.output) if config.output.kind in SAMPLED else None

    def prepare(self, model, train_ids) -> None:
        """Give the output layer the train split's unigram counts (proposal, tree, classes).
        Runs before a resumed run loads its weights, so the initialisation it may do is
        overwritten there."""
        set_counts = getattr(model.lm_head, "set_counts", None)  # factorised softmaxes only
        if self.sampler is None and set_counts is None:
            return
        counts = unigram_counts(train_ids, model.embedding.tokens.num_embeddings)  # (V,)
        if self.sampler is not None:
            self.sampler.set_counts(counts)
            self.sampler.initialise(model.lm_head)
        if set_counts is not None:
            set_counts(counts)

    def _forward(self, model, batch: dict, carried):
        memory = None if (batch.get("reset_memory") or not model.recurrent) else carried
        output = model(batch["input_ids"], batch.get("attention_mask"), memory=memory,
                       **language_ids(batch))
        return output, (detach_memory(output.memory) if model.recurrent else None)

    def loss(self, model, batch: dict) -> LossOutput:
        output, self.memory = self._forward(model, batch, self.memory)
        labels = batch["labels"]  # (B, T)
        extra = {}
        if self.sampler is not None and model.training:
            loss, extra = self.sampler.loss(model.lm_head, output.hidden.flatten(0, 1),
                                            labels.flatten(), self.seed, batch.get("step", 0))
        else:
            loss = model.lm_head.loss(output.hidden.flatten(0, 1), labels.flatten())
        tokens = int((labels != IGNORE).sum())
        return LossOutput(loss, {"loss": loss.item(), "tokens": tokens, **extra})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        self.eval_memory = None
        if model.recurrent:
            return eval_stream(ids, settings.seq_len, settings.max_tokens)
        return eval_windows(ids, settings.seq_len, settings.stride, settings.batch_size,
                            settings.max_tokens)

    def evaluate(self, model, batch: dict) -> dict:
        """Summed NLL of the scored labels under the exact softmax, row by row."""
        output, self.eval_memory = self._forward(model, batch, self.eval_memory)
        logits = model.lm_head(output.hidden)  # (b, T, V)
        labels = batch["labels"]
        nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE,
                              reduction="none")  # (b, T), 0 where not scored
        return {"nll": sum(row.sum().item() for row in nll), "tokens": int((labels != IGNORE).sum())}

    def summarize(self, totals: dict) -> dict:
        return perplexity_summary(totals, "causal")

    # The carried state is part of the trainer state, so resume is exact.
    def state_dict(self) -> dict:
        state = {f"output.{k}": v for k, v in (self.sampler.state_dict() if self.sampler else {}).items()}
        return {**state, **memory_state(self.memory)}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler is not None:
            self.sampler.load_state_dict({k[len("output."):]: v for k, v in state.items()
                                          if k.startswith("output.")})
        self.memory = memory_from_state(state)
