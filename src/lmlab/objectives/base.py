"""The objective protocol: what every pre-training objective is and does (DESIGN §1, §5).

An objective owns its input corruption and its loss, and knows how to measure itself on
held-out text. The training loop, evaluation and the comparison call only the methods
below; they never test an objective's name or probe it with ``hasattr``. Adding an
objective is one file (its config dataclass and its class) plus one line in
``registry.OBJECTIVES`` (see "Adding an objective" in DESIGN/README).

Randomness is explicit and stateless: every random choice of a batch (which tokens are
masked, which sample the generator draws) comes from :func:`row_generator` seeded by
(objective seed, batch step, example id, stream). A batch is therefore corrupted the same
way whenever it is seen, which is what makes resume exact and held-out masks fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Protocol

import numpy as np
import torch
from torch import nn

from lmlab.data.batching import IGNORE, eval_blocks  # IGNORE: re-exported for objectives

EVALUATION_SEED = 1234
"""Seed of the fixed held-out corruption (static masks), the same for every run."""


class LossOutput(NamedTuple):
    loss: torch.Tensor  # scalar, differentiable
    metrics: dict  # plain floats/ints for logging: loss, tokens, accuracy, ...


@dataclass(frozen=True)
class EvaluationSettings:
    """How a held-out split is cut into evaluation batches."""

    seq_len: int
    batch_size: int = 16
    stride: int | None = None
    """Causal transformers: the window stride (None: seq_len // 2)."""
    max_tokens: int = 0
    """Read at most this many tokens of the split (0: all)."""
    marks: np.ndarray | None = None
    """(N,) text-derived masking units of the split (jieba words, ERNIE spans), or None."""
    languages: np.ndarray | None = None
    """(N,) language ids of the split's tokens (a mix read by an XLM model), or None."""


class ObjectiveConfig(Protocol):
    """The typed config of an objective: a dataclass read from the ``objectives:`` list."""

    name: str
    """The registry key used in YAML (``mlm``); also the key of its heads and the prefix of
    its logged metrics."""
    weight: float
    """Its weight in the run's summed loss."""

    def validate(self, path: str) -> None:
        """Reject impossible values, naming ``path.field`` (ConfigError)."""

    def check_compatible(self, run_config, path: str) -> None:
        """Reject a run it cannot train (wrong encoder mask, missing partner objective)."""

    def describe(self) -> str:
        """A short label for comparison tables: ``mlm (whole_word, dynamic)``."""

    def unit_source(self) -> tuple[str, str] | None:
        """Text-derived masking units the token store must annotate once for this
        objective (("jieba", ""), ("spans", file)), or None."""


class Objective(Protocol):
    """A built objective. Construction: ``Class(config, tokenizer, seed)``."""

    config: ObjectiveConfig
    causal: bool
    """Whether it needs left-to-right blocks with shifted labels (CLM) rather than
    ``[CLS] … [SEP]`` blocks."""
    evaluation_kind: str | None
    """What :meth:`evaluate` measures ("causal", "masked", "generator-masked"), or None for
    an auxiliary objective (NSP, SBO, …) that leaves the run's held-out measure to another.
    A run is measured by its first objective whose kind is not None."""
    decoder_start_id: int | None
    """An encoder–decoder objective's first decoder input (BART ``<eos>``, T5 ``<pad>``):
    what generation from the run starts with. None for the others."""

    def heads(self, model_config, embedding: nn.Module) -> dict[str, nn.Module]:
        """The modules it adds to the model, keyed by its name (may be empty). They are
        part of the checkpoint: ``model.heads[name]``."""

    def prepare(self, model, train_ids: np.ndarray) -> None:
        """Train-split statistics it needs before training (unigram counts for sampled
        softmaxes). Runs before a resumed run loads its weights."""

    def corrupt(self, batch: dict) -> dict:
        """Its input corruption (DESIGN §5): the batch with corrupted inputs and its labels
        added. A pure function of the batch and the seed."""

    def loss(self, model, batch: dict) -> LossOutput:
        """The loss of a corrupted batch. Objectives that read the same encoder pass use
        :func:`shared_forward`; others (a recurrent CLM with carried state, ELECTRA's
        generator and discriminator) run the model themselves."""

    def evaluation_batches(self, model, ids: np.ndarray,
                           settings: EvaluationSettings) -> Iterable[dict]:
        """The held-out batches its measure is defined on (windows, blocks, a stream)."""

    def evaluate(self, model, batch: dict) -> dict:
        """Additive statistics of one held-out batch (e.g. summed NLL and token count)."""

    def summarize(self, totals: dict) -> dict:
        """The measure from the summed statistics: ``perplexity``, ``loss``, ``tokens``,
        ``kind`` and any extra (``discriminator_accuracy``)."""

    def state_dict(self) -> dict:
        """Carried state that exact resume needs (recurrent memory), tensors only."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""


class ConfigDefaults:
    """Defaults of :class:`ObjectiveConfig`'s optional methods: no text-derived units, the
    name alone as its table label."""

    def unit_source(self) -> tuple[str, str] | None:
        return None

    def describe(self) -> str:
        return self.name


class StatelessObjective:
    """Defaults for the protocol's hooks that most objectives do not need: no heads, no
    train statistics, no corruption of its own, no carried state, no held-out measure."""

    causal = False
    evaluation_kind: str | None = None
    decoder_start_id: int | None = None

    def __init__(self, config, tokenizer=None, seed: int = 0):
        self.config = config
        self.seed = seed

    def heads(self, model_config, embedding) -> dict:
        return {}

    def prepare(self, model, train_ids) -> None:
        return None

    def corrupt(self, batch: dict) -> dict:
        return batch

    def evaluation_batches(self, model, ids, settings):
        raise NotImplementedError(f"{self.config.name} has no held-out measure of its own")

    def evaluate(self, model, batch: dict) -> dict:
        raise NotImplementedError(f"{self.config.name} has no held-out measure of its own")

    def summarize(self, totals: dict) -> dict:
        raise NotImplementedError(f"{self.config.name} has no held-out measure of its own")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


def shared_forward(model, batch: dict):
    """The encoder output of the (fully corrupted) batch, computed once and kept in the
    batch, so MLM + NSP (or + SBO, + WSO) read one forward pass as BERT does (§A.2)."""
    if "encoder_output" not in batch:
        knowledge = {"knowledge": batch["knowledge"]} if "knowledge" in batch else {}
        batch["encoder_output"] = model(batch["input_ids"], batch.get("attention_mask"),
                                        batch.get("segments"), **language_ids(batch),
                                        **knowledge)
    return batch["encoder_output"]


def language_ids(batch: dict) -> dict:
    """``{"languages": (B, T)}`` when the batch carries XLM language ids (a mixed corpus,
    Lample & Conneau 2019 §3.1), else ``{}``: models without them take no such keyword."""
    return {"languages": batch["languages"]} if "languages" in batch else {}


def row_generator(*seed_parts: int) -> torch.Generator:
    """A generator seeded by a small, stable mix of the parts into one 63-bit seed:
    (objective seed, step, example id[, stream])."""
    seed = 0x9E3779B97F4A7C15
    for part in seed_parts:
        seed = (seed * 6364136223846793005 + int(part) + 1442695040888963407) % (1 << 63)
    return torch.Generator().manual_seed(seed)


def perplexity_summary(totals: dict, kind: str) -> dict:
    mean = totals.get("nll", 0.0) / max(1, totals.get("tokens", 0))
    # exp overflows past ~709: a diverged model's perplexity is infinite, not an error.
    perplexity = math.exp(mean) if mean < 700 else float("inf")
    return {"perplexity": perplexity, "loss": mean, "tokens": int(totals.get("tokens", 0)),
            "kind": kind}


def memory_state(memory) -> dict:
    """A carried recurrent state as flat tensors for the trainer state: ``memory`` (one
    tensor: Elman, window MLP) or ``memory.0``.. (LSTM (h, c), one per XL layer)."""
    if memory is None:
        return {}
    if isinstance(memory, torch.Tensor):
        return {"memory": memory}
    return {f"memory.{i}": tensor for i, tensor in enumerate(memory)}


def memory_from_state(state: dict):
    """The inverse of :func:`memory_state` (None when no state was saved)."""
    if "memory" in state:
        return state["memory"]
    parts = sum(1 for key in state if key.startswith("memory."))
    return tuple(state[f"memory.{i}"] for i in range(parts)) if parts else None


def detach_memory(memory):
    """Cut the graph between truncated-BPTT segments, keeping the values."""
    if memory is None:
        return None
    if isinstance(memory, torch.Tensor):
        return memory.detach()
    return type(memory)(detach_memory(m) for m in memory)


def held_out_blocks(ids, settings: "EvaluationSettings", tokenizer):
    """Held-out ``[CLS] block [SEP]`` batches of ``ids`` (at most ``settings.max_tokens``
    tokens), not yet corrupted: what the block objectives (MLM, ELECTRA, the seq2seq
    objectives, XLNet) each corrupt with their fixed held-out noise."""
    block = settings.seq_len - 2
    max_blocks = max(1, settings.max_tokens // block) if settings.max_tokens else 0
    return eval_blocks(ids, settings.seq_len, tokenizer.cls_id, tokenizer.sep_id,
                       settings.batch_size, max_blocks, settings.marks, settings.languages)
