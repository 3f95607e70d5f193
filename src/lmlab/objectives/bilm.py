"""ELMo's bidirectional language model (Peters et al. 2018, §3.1: the joint log likelihood):

    maximise  Σ_k [ log p(t_k | t_1..t_{k-1}; Θ_x, Θ→_LSTM, Θ_s)
                  + log p(t_k | t_{k+1}..t_N; Θ_x, Θ←_LSTM, Θ_s) ]

The forward LSTM stack predicts the next token, the backward stack (reading the block
from its end) the previous one; both share the token encoder Θ_x (the embedding: a
char-CNN in ELMo) and the softmax Θ_s (the run's ONE LM head, at the width of one
direction: ``encoder.lm_input_size``). Needs the ``bilstm`` encoder, whose output is
[h→ ; h←] (:func:`lmlab.encoders.bilstm.split_directions`).

Batches: a causal block (inputs t_0..t_{T-1}, labels t_1..t_T) is read as the T+1 tokens
t_0..t_T: the forward half at k predicts t_{k+1} (k < T), the backward half at k predicts
t_{k-1} (k > 0), so each direction has T targets. The loss is the mean of the two
directions' mean cross-entropies (bilm-tf's 0.5 · (forward + backward)); ``output``
chooses the full softmax or a sampled one (ELMo trained with a sampled softmax, §3.1 /
bilm-tf; see :mod:`lmlab.objectives.softmax`). No state is carried between batches: the
backward LM cannot read a block's future from the previous batch.

Held out, the split is read as consecutive windows of ``seq_len + 1`` tokens overlapping
by one token (window w = tokens [wT, wT + T]): the forward LM scores tokens 1..N-1 and the
backward LM tokens 0..N-2 of the split, each token once per direction, with at most T
tokens of its own side's context inside its window. The measure is the word-level
perplexity of each direction (``forward_perplexity``, ``backward_perplexity``) and their
average (``perplexity``, the number ELMo reports: "the average forward and backward
perplexities", §3.4 / bilm-tf), with ``loss`` the mean of the two NLLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from lmlab.data.batching import IGNORE
from lmlab.encoders.bilstm import split_directions
from lmlab.errors import ConfigError
from lmlab.objectives.base import (ConfigDefaults, EvaluationSettings, LossOutput,
                                   StatelessObjective, perplexity_summary)
from lmlab.objectives.softmax.config import FACTORISED, SAMPLED, OutputConfig
from lmlab.objectives.softmax.output import SampledSoftmax
from lmlab.objectives.softmax.proposal import unigram_counts


@dataclass
class BiLMConfig(ConfigDefaults):
    name: Literal["bilm"] = "bilm"
    weight: float = 1.0
    output: OutputConfig = field(default_factory=OutputConfig)
    """How the shared softmax is trained: full, or sampled (importance, nce); evaluation
    always uses the exact softmax. Factorised softmaxes are not offered here."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.output.kind in FACTORISED:
            raise ConfigError(f"{path}.output.kind: bilm trains the full softmax or a sampled "
                              f"one (full, {', '.join(SAMPLED)}), not {self.output.kind}")

    def describe(self) -> str:
        return self.name if self.output.kind == "full" else f"{self.name} ({self.output.kind})"

    def check_compatible(self, run_config, path: str) -> None:
        encoder = run_config.model.encoder.name
        if encoder != "bilstm":
            raise ConfigError(f"{path}: bilm needs the bilstm encoder (separate forward and "
                              f"backward LSTMs); set model.encoder.name: bilstm, not {encoder}")
        if run_config.data.batching == "pairs":
            raise ConfigError("data.batching: bilm reads blocks (or streams) of text, not "
                              "sentence pairs; set data.batching: blocks")


def _sequence(batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The T+1 tokens of a batch (B, T+1) and their padding mask (None: all real)."""
    if "tokens" in batch:  # held-out windows (evaluation_batches)
        return batch["tokens"], batch.get("attention_mask")
    return torch.cat([batch["input_ids"], batch["labels"][:, -1:]], dim=1), None


def direction_targets(model, tokens: torch.Tensor, mask: torch.Tensor | None):
    """((forward hidden, forward targets), (backward hidden, backward targets)), hidden
    (B, T, D) and targets (B, T) with IGNORE at padding, of the T+1 ``tokens``."""
    hidden = model(tokens, mask).hidden  # (B, T+1, 2D)
    forward, backward = split_directions(hidden)  # each (B, T+1, D)
    real = (mask[:, 1:] != 0) if mask is not None else torch.ones_like(tokens[:, 1:], dtype=torch.bool)
    # Forward state at k has read t_0..t_k and predicts t_{k+1}; backward state at k has
    # read t_{N-1}..t_k and predicts t_{k-1}. Position k+1 real => k real: one mask.
    forward_targets = tokens[:, 1:].masked_fill(~real, IGNORE)  # (B, T)
    backward_targets = tokens[:, :-1].masked_fill(~real, IGNORE)  # (B, T)
    return (forward[:, :-1], forward_targets), (backward[:, 1:], backward_targets)


class BiLMObjective(StatelessObjective):
    causal = True  # left-to-right blocks with shifted labels: t_0..t_T in one row
    evaluation_kind = "bilm"

    def __init__(self, config: BiLMConfig, tokenizer=None, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.sampler = SampledSoftmax(config.output) if config.output.kind in SAMPLED else None

    def prepare(self, model, train_ids) -> None:
        """The sampled softmax's unigram proposal from the train split (as clm does)."""
        if self.sampler is not None:
            self.sampler.set_counts(unigram_counts(train_ids, model.lm_head.decoder.out_features))
            self.sampler.initialise(model.lm_head)

    def loss(self, model, batch: dict) -> LossOutput:
        tokens, mask = _sequence(batch)
        (forward, forward_targets), (backward, backward_targets) = direction_targets(
            model, tokens, mask)
        count = int((forward_targets != IGNORE).sum())
        if self.sampler is not None and model.training:
            # One sampled loss over both directions' positions (equal counts: their mean).
            hidden = torch.cat([forward.flatten(0, 1), backward.flatten(0, 1)])  # (2BT, D)
            targets = torch.cat([forward_targets.flatten(), backward_targets.flatten()])
            loss, extra = self.sampler.loss(model.lm_head, hidden, targets, self.seed,
                                            batch.get("step", 0))
            return LossOutput(loss, {"loss": loss.item(), "tokens": 2 * count, **extra})
        forward_loss = model.lm_head.loss(forward.flatten(0, 1), forward_targets.flatten())
        backward_loss = model.lm_head.loss(backward.flatten(0, 1), backward_targets.flatten())
        loss = 0.5 * (forward_loss + backward_loss)  # bilm-tf: the mean of the two LMs
        return LossOutput(loss, {"loss": loss.item(), "forward_loss": forward_loss.item(),
                                 "backward_loss": backward_loss.item(), "tokens": 2 * count})

    def evaluation_batches(self, model, ids, settings: EvaluationSettings):
        """Windows of T+1 tokens starting every T tokens (the last one shorter, padded)."""
        length = settings.seq_len
        if settings.stride not in (None, length):
            raise ConfigError(f"--stride: a biLM's held-out windows are fixed ({length} + 1 "
                              f"tokens overlapping by one, each token scored once per "
                              f"direction); leave --stride out")
        stream = np.asarray(ids[: settings.max_tokens or len(ids)], dtype=np.int64)
        starts = list(range(0, max(0, len(stream) - 1), length))
        for first in range(0, len(starts), settings.batch_size):
            windows = [stream[start: start + length + 1] for start in
                       starts[first: first + settings.batch_size]]
            tokens = torch.zeros(len(windows), len(windows[0]), dtype=torch.long)  # (b, T+1)
            mask = torch.zeros_like(tokens)
            for row, window in enumerate(windows):
                tokens[row, : len(window)] = torch.from_numpy(window)
                mask[row, : len(window)] = 1
            yield {"tokens": tokens, "attention_mask": mask}

    def evaluate(self, model, batch: dict) -> dict:
        """Summed NLL of each direction's targets under the exact shared softmax."""
        (forward, forward_targets), (backward, backward_targets) = direction_targets(
            model, batch["tokens"], batch.get("attention_mask"))
        count = int((forward_targets != IGNORE).sum())
        if count == 0:
            return {"forward_nll": 0.0, "backward_nll": 0.0, "tokens": 0}
        forward_nll = model.lm_head.loss(forward.flatten(0, 1), forward_targets.flatten())
        backward_nll = model.lm_head.loss(backward.flatten(0, 1), backward_targets.flatten())
        return {"forward_nll": forward_nll.item() * count,
                "backward_nll": backward_nll.item() * count, "tokens": count}

    def summarize(self, totals: dict) -> dict:
        tokens = totals.get("tokens", 0)
        forward = perplexity_summary({"nll": totals.get("forward_nll", 0.0), "tokens": tokens},
                                     "bilm")
        backward = perplexity_summary({"nll": totals.get("backward_nll", 0.0), "tokens": tokens},
                                      "bilm")
        average = 0.5 * (forward["perplexity"] + backward["perplexity"])
        return {"perplexity": average, "loss": 0.5 * (forward["loss"] + backward["loss"]),
                "tokens": int(tokens), "kind": "bilm",
                "forward_perplexity": forward["perplexity"],
                "backward_perplexity": backward["perplexity"],
                "forward_loss": forward["loss"], "backward_loss": backward["loss"]}

    def state_dict(self) -> dict:
        return {f"output.{k}": v for k, v in
                (self.sampler.state_dict() if self.sampler else {}).items()}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler is not None:
            self.sampler.load_state_dict({k[len("output."):]: v for k, v in state.items()
                                          if k.startswith("output.")})

