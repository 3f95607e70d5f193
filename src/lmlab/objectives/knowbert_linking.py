"""KnowBERT's entity-linking loss (``entity_linking``; Peters et al. 2019, §3.4).

The objective links the batch's clean text (mentions, candidates and priors from WordNet,
:mod:`lmlab.objectives.entity_links`); the KAR of a ``knowledge: {kind: knowbert}``
encoder scores each mention's candidates (ψ, eq. 2) and writes the scores into the batch.
The loss is the log-likelihood of the correct entity,

    L_EL = −Σ_m log( exp(ψ_mg) / Σ_k exp(ψ_mk) ),

averaged over the linked mentions, added to MLM's loss (L_KnowBert = L_BERT + L_EL).
KnowBERT-WordNet takes g from SemCor's gold senses; lmlab has no sense-tagged text, so g
is the candidate with the highest prior, the most frequent sense in SemCor's counts (a
silver label: the linker learns to agree with the prior where the context does not
overrule it). A mention with one candidate adds nothing (its softmax is 1). As the run's
first objective it measures the run (masked perplexity with links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, shared_forward
from lmlab.objectives.entity_links import EntityLinks, check_fusion, hide_mlm_words


@dataclass
class EntityLinkingConfig(ConfigDefaults):
    name: Literal["entity_linking"] = "entity_linking"
    weight: float = 1.0

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        check_fusion(run_config, path, "knowbert", "entity_linking (KnowBERT)")

    def describe(self) -> str:
        return "entity_linking (KnowBERT)"


class EntityLinkingObjective(StatelessObjective):
    """L_EL on the KAR's linker scores (module docstring)."""

    evaluation_kind = "masked"

    def __init__(self, config: EntityLinkingConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.entity_links = EntityLinks(tokenizer, seed)

    def prepare(self, model, train_ids) -> None:
        self.entity_links.attach(model)

    def corrupt(self, batch: dict) -> dict:
        return {**batch, "knowledge": self.entity_links.links(batch["input_ids"])}

    def loss(self, model, batch: dict) -> LossOutput:
        hide_mlm_words(batch)  # a masked word's synset would name it
        output = shared_forward(model, batch)
        scores = batch["knowledge"]["linker_scores"]  # (B, M, K), written by the KAR
        mentions = batch["knowledge"]["mention_mask"].to(scores.device)  # (B, M)
        if not bool(mentions.any()):
            return LossOutput(output.hidden.sum() * 0.0, {"loss": 0.0, "mentions": 0})
        chosen = scores[mentions]  # (N, K); the silver entity is candidate 0 (best prior)
        targets = chosen.new_zeros(chosen.shape[0], dtype=torch.long)
        loss = F.cross_entropy(chosen.float(), targets)
        accuracy = (chosen.argmax(-1) == 0).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "prior_agreement": accuracy,
                                 "mentions": int(chosen.shape[0])})

    def evaluation_batches(self, model, ids, settings):
        return self.entity_links.evaluation_batches(model, ids, settings)

    def evaluate(self, model, batch: dict) -> dict:
        return self.entity_links.evaluate(model, batch)

    def summarize(self, totals: dict) -> dict:
        return self.entity_links.summarize(totals)
