"""SenseBERT's supersense prediction of masked words (``supersense``; Levine et al. 2020,
"SenseBERT: Driving Some Sense into BERT", §3).

Beside MLM, a second head predicts the WordNet supersense (one of the 45 lexnames) of each
masked word. No sense-annotated text is needed: the loss puts the probability on the
word's allowed set A(w) (:mod:`lmlab.knowledge.supersense`),

    L_allowed = −log Σ_{s ∈ A(w)} p(s | context)                       (eq. 3)
    L_reg     = −Σ_{s ∈ A(w)} (1 / |A(w)|) log p(s | context)          (eq. 4)

and L_SLM = L_allowed + ``reg_weight`` · L_reg. The head is p(s | context) = softmax(W_S^T
f(h)) with f a dense + GELU + LayerNorm transform like MLM's. With
``model.embedding.token_features: 45`` the input also gets SenseBERT's supersense
embeddings, (W + W_S M) x (§3.2): every token adds the vectors of its allowed
supersenses, and W_S is the same matrix as the output's (tied). This objective fills the
embedding's (V, 45) table M^T from WordNet before training (:meth:`prepare`); ``[MASK]``,
special tokens and ``##`` pieces have empty rows, so a masked word shows no sense.

It reads the masked positions and their original tokens from the MLM objective
(``mlm_labels``), which must come before it in ``objectives:``; both losses read one
forward pass. The logged ``accuracy`` is SenseBERT's supersense accuracy: the share of
masked words (with A(w) not empty) whose top supersense is an allowed one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.knowledge.lexical_pairs import cached_wordnet
from lmlab.knowledge.supersense import (NUM_SUPERSENSES, allowed_supersense_loss,
                                        allowed_supersense_mask, supersense_accuracy)
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, shared_forward


@dataclass
class SupersenseConfig(ConfigDefaults):
    name: Literal["supersense"] = "supersense"
    weight: float = 1.0
    reg_weight: float = 1.0
    """Weight of the soft-labelling regulariser L_reg (eq. 4) beside L_allowed (eq. 3)."""
    wordnet: str = ""
    """WordNet folder ("" = $LMLAB_WORDNET, else /usr/share/wordnet)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.reg_weight < 0:
            raise ConfigError(f"{path}.reg_weight: must be >= 0, got {self.reg_weight}")

    def check_compatible(self, run_config, path: str) -> None:
        names = [objective.name for objective in run_config.objectives]
        if "mlm" not in names or names.index("mlm") > names.index(self.name):
            raise ConfigError(f"{path}: supersense predicts the words that mlm masks; put an "
                              f"mlm objective before it in objectives")
        features = run_config.model.embedding.token_features
        if features not in (0, NUM_SUPERSENSES):
            raise ConfigError(f"{path}: supersense embeddings need model.embedding."
                              f"token_features: {NUM_SUPERSENSES} (or 0 for none), got {features}")

    def describe(self) -> str:
        return "supersense (SenseBERT)"


class SupersenseHead(nn.Module):
    """f(h) = LayerNorm(GELU(dense(h))), then W_S^T f(h): (N, H) -> (N, 45)."""

    def __init__(self, hidden_size: int, width: int, tied: nn.Embedding | None):
        super().__init__()
        self.transform = nn.Linear(hidden_size, width)
        self.norm = nn.LayerNorm(width, eps=1e-12)
        self.decoder = nn.Linear(width, NUM_SUPERSENSES, bias=False)
        if tied is not None:
            self.decoder.weight = tied.weight  # (45, E): the input's supersense vectors

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.transform(hidden))))


class SupersenseObjective(StatelessObjective):
    """SenseBERT's allowed-supersense loss on the MLM-masked words (module docstring)."""

    def __init__(self, config: SupersenseConfig, tokenizer, seed: int = 0,
                 allowed: torch.Tensor | None = None):
        super().__init__(config, tokenizer, seed)
        if allowed is None:
            vocabulary = [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
            allowed = allowed_supersense_mask(cached_wordnet(config.wordnet), vocabulary)
            allowed[: tokenizer.num_special] = False  # [MASK], [UNK], ...: no sense
        self.allowed = allowed  # (V, 45) bool

    def heads(self, model_config, embedding) -> dict:
        width = model_config.embedding.embedding_size or model_config.embedding.hidden_size
        tied = getattr(embedding, "features", None)
        return {"supersense": SupersenseHead(model_config.embedding.hidden_size, width, tied)}

    def prepare(self, model, train_ids) -> None:
        """Write M^T into the embedding's feature table (a resumed run's checkpoint holds
        the same values)."""
        table = getattr(model.embedding, "feature_table", None)
        if table is not None:
            with torch.no_grad():
                table.copy_(self.allowed.to(table.device, table.dtype))

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        labels = batch["mlm_labels"]
        chosen = labels != IGNORE  # (B, T)
        allowed = self.allowed.to(labels.device)[labels[chosen]]  # (N, 45)
        logits = model.heads["supersense"](output.hidden[chosen])  # (N, 45)
        loss_allowed, loss_reg = allowed_supersense_loss(logits, allowed)
        loss = loss_allowed + self.config.reg_weight * loss_reg
        metrics = {"loss": loss.item(), "allowed_loss": loss_allowed.item(),
                   "words": int(allowed.any(dim=-1).sum())}
        accuracy = supersense_accuracy(logits.detach(), allowed)
        if not math.isnan(accuracy):
            metrics["accuracy"] = accuracy
        return LossOutput(loss, metrics)
