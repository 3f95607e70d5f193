"""Wiring of the ``output`` option (see :mod:`lmlab.objectives.softmax.config`).

* :func:`build_output_head` — used by ``registry.build_model``: wraps the LM head in the
  hierarchical or class-factorised head when a clm objective asks for one, so the
  model's distribution (and its checkpoint) include the tree / classes.
* :class:`SampledSoftmax` — the training loss of the sampled kinds (importance, adaptive
  importance, NCE), computed from the plain LM head's decoder.
"""

from __future__ import annotations

import math

import torch

from lmlab.objectives.softmax.class_based import ClassSoftmaxHead
from lmlab.objectives.softmax.config import OutputConfig
from lmlab.objectives.softmax.hierarchical import HierarchicalSoftmaxHead
from lmlab.objectives.softmax.importance import importance_sampling_loss
from lmlab.objectives.softmax.nce import nce_loss
from lmlab.objectives.softmax.proposal import AdaptiveProposal, UnigramProposal, step_generator

IGNORE_INDEX = -100


def output_config(objectives) -> OutputConfig | None:
    """The ``output`` option of the run's objectives (the first that has one)."""
    for objective in objectives or ():
        output = getattr(objective, "output", None)
        if output is not None:
            return output
    return None


def build_output_head(lm_head, hidden_size: int, vocab_size: int, objectives=()):
    output = output_config(objectives)
    if output is None or output.kind not in ("hierarchical", "class"):
        return lm_head
    if output.kind == "hierarchical":
        return HierarchicalSoftmaxHead(lm_head, vocab_size)
    return ClassSoftmaxHead(lm_head, hidden_size, vocab_size, output.num_classes)


class SampledSoftmax:
    """Training loss of a sampled kind; the model itself keeps its full softmax."""

    def __init__(self, config: OutputConfig):
        self.config = config
        self.proposal = None

    def set_counts(self, counts: torch.Tensor) -> None:
        config = self.config
        if config.kind == "adaptive_importance":
            self.proposal = AdaptiveProposal(counts, config.unigram_power, config.adapt_rate,
                                             config.adapt_floor)
        else:
            self.proposal = UnigramProposal(counts, config.unigram_power)

    def initialise(self, lm_head) -> None:
        """NCE fixes the model's normaliser to 1 (Mnih & Teh 2012, §3), so the model must
        start (nearly) self-normalised: the decoder bias starts at -log V, making exp(s_w)
        sum to ~1. With a zero bias the start sums to V and the words that are never drawn
        as noise keep their mass: the exact perplexity went above V within 30 steps."""
        bias = lm_head.decoder.bias
        if self.config.kind == "nce" and bias is not None:
            with torch.no_grad():
                bias.fill_(-math.log(bias.numel()))

    def loss(self, lm_head, hidden: torch.Tensor, targets: torch.Tensor, seed: int, step: int):
        """hidden (N, D), targets (N,) -> (scalar loss, metrics)."""
        if self.proposal is None:
            raise RuntimeError("the sampled softmax needs unigram counts: call the "
                               "objective's prepare(model, train_ids) before training")
        keep = targets != IGNORE_INDEX
        features, targets = lm_head.features(hidden[keep]), targets[keep]  # (N, D), (N,)
        weight, bias = lm_head.decoder.weight, lm_head.decoder.bias
        samples = self.proposal.sample(self.config.samples, step_generator(seed, step))  # (K,)
        log_q = self.proposal.log_prob(samples).to(features.dtype)
        log_q_targets = self.proposal.log_prob(targets).to(features.dtype)
        if self.config.kind == "nce":
            return nce_loss(features, weight, bias, targets, samples, log_q, log_q_targets), {}
        loss, ratios = importance_sampling_loss(features, weight, bias, targets, samples, log_q,
                                                log_q_targets)
        effective = (1.0 / (ratios ** 2).sum(-1)).mean().item()  # Kong's effective sample size
        self.proposal.update(samples, ratios)
        return loss, {"effective_samples": effective}

    def state_dict(self) -> dict:
        return self.proposal.state_dict() if self.proposal is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.proposal is not None:
            self.proposal.load_state_dict(state)
