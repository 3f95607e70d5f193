"""ERNIE-THU's denoising entity auto-encoder, dEA (``dea``; Zhang et al. 2019, §3.4).

The batch's token-entity alignments (the best-prior synset at each mention's first token,
:mod:`lmlab.objectives.entity_links`) are corrupted before the K-Encoder reads them (§3.4):

* 5% of the alignments: the entity is replaced by another entity, uniform over the
  rest of the entity vocabulary (the model must correct it);
* 15%: the alignment is masked (the token gets no entity; the model must recover it);
* the rest: unchanged.

Every aligned token then predicts its original entity among the entities of its own
sequence (the distinct aligned entities of the row, not the whole vocabulary):

    p(e_j | w_i) = exp(linear(w_i^o) · e_j) / Σ_{k=1}^{m} exp(linear(w_i^o) · e_k)   (eq. 7)

with w_i^o the encoder's output at the token and e_j the (fixed) TransE vectors; linear
is a dense layer to the entity width with GELU and LayerNorm, as BERT's MLM transform.
The loss is the cross-entropy averaged over the aligned tokens. Draws come from
``row_generator(seed, step, example, 21)``, so a batch is corrupted the same way whenever
it is seen. ``dea`` links the clean text, so it comes before ``mlm``; as the run's first
objective it measures the run (masked perplexity with links, :class:`EntityLinks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.errors import ConfigError
from lmlab.knowledge.transe_cache import entity_embeddings
from lmlab.objectives.base import (IGNORE, ConfigDefaults, LossOutput, StatelessObjective,
                                   row_generator, shared_forward)
from lmlab.objectives.entity_links import EntityLinks, check_fusion, hide_mlm_words

STREAM = 21  # row_generator stream of dEA's draws


@dataclass
class EntityDenoisingConfig(ConfigDefaults):
    name: Literal["dea"] = "dea"
    weight: float = 1.0
    replace_rate: float = 0.05
    """Share of alignments whose entity is replaced by a random one (§3.4: 5%)."""
    mask_rate: float = 0.15
    """Share of alignments masked (§3.4: 15%)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        for name in ("replace_rate", "mask_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{path}.{name}: must be in [0, 1], got {getattr(self, name)}")
        if self.replace_rate + self.mask_rate > 1.0:
            raise ConfigError(f"{path}: replace_rate + mask_rate must be <= 1")

    def check_compatible(self, run_config, path: str) -> None:
        check_fusion(run_config, path, "ernie_thu", "dea (ERNIE-THU)")

    def describe(self) -> str:
        return "dea (ERNIE-THU)"


class EntityHead(nn.Module):
    """linear(w^o) of eq. 7: (N, H) -> (N, E)."""

    def __init__(self, hidden_size: int, entity_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, entity_size)
        self.norm = nn.LayerNorm(entity_size, eps=1e-12)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.dense(hidden)))


def corrupt_alignments(token_entities: torch.Tensor, generators, num_entities: int,
                       replace_rate: float, mask_rate: float):
    """token_entities (B, T) (entity row + 1, 0 = none) -> (corrupted (B, T), the row's
    entity set (B, E_max) (row + 1, 0 = padding), targets (B, T): the index of the original
    entity in its row's set at every aligned token, IGNORE elsewhere)."""
    corrupted = token_entities.clone()
    targets = torch.full_like(token_entities, IGNORE)
    sets = []
    for row, generator in enumerate(generators):
        aligned = token_entities[row].nonzero().squeeze(1)  # (n,)
        entities = torch.unique(token_entities[row, aligned])  # sorted, distinct
        sets.append(entities)
        if aligned.numel() == 0:
            continue
        targets[row, aligned] = torch.searchsorted(entities, token_entities[row, aligned])
        draw = torch.rand(aligned.numel(), generator=generator)
        original = token_entities[row, aligned]
        # another entity: uniform over the N - 1 rows that are not the original
        randoms = torch.randint(1, max(num_entities, 2), (aligned.numel(),), generator=generator)
        randoms = randoms + (randoms >= original).long()
        replace = draw < replace_rate
        masked = (draw >= replace_rate) & (draw < replace_rate + mask_rate)
        corrupted[row, aligned[replace]] = randoms[replace]
        corrupted[row, aligned[masked]] = 0
    width = max([len(s) for s in sets] + [1])
    entity_sets = torch.zeros(len(sets), width, dtype=torch.long)
    for row, entities in enumerate(sets):
        entity_sets[row, :len(entities)] = entities
    return corrupted, entity_sets, targets


class EntityDenoisingObjective(StatelessObjective):
    """dEA (module docstring); measures the run by masked perplexity with links."""

    evaluation_kind = "masked"

    def __init__(self, config: EntityDenoisingConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.entity_links = EntityLinks(tokenizer, seed)

    def heads(self, model_config, embedding) -> dict:
        knowledge = model_config.encoder.knowledge
        size = entity_embeddings(knowledge.entities, knowledge.wordnet).entity_vectors.shape[1]
        return {"dea": EntityHead(model_config.embedding.hidden_size, size)}

    def prepare(self, model, train_ids) -> None:
        self.entity_links.attach(model)

    def corrupt(self, batch: dict) -> dict:
        links = self.entity_links.links(batch["input_ids"])
        ids = batch["input_ids"]
        example_ids = batch.get("example_ids", torch.arange(ids.shape[0]))
        generators = [row_generator(self.seed, batch.get("step", 0), int(e), STREAM)
                      for e in example_ids]
        corrupted, entity_sets, targets = corrupt_alignments(
            links["token_entities"], generators, self.entity_links.num_entities,
            self.config.replace_rate, self.config.mask_rate)
        return {**batch, "knowledge": {**links, "token_entities": corrupted},
                "dea_entities": entity_sets, "dea_targets": targets}

    def loss(self, model, batch: dict) -> LossOutput:
        hide_mlm_words(batch)  # a masked word's synset would name it
        output = shared_forward(model, batch)
        targets = batch["dea_targets"]
        chosen = targets != IGNORE  # (B, T)
        rows = chosen.nonzero()[:, 0]  # (N,)
        query = model.heads["dea"](output.hidden[chosen])  # (N, E)
        entity_sets = batch["dea_entities"][rows]  # (N, E_max)
        vectors = model.encoder.entity_vectors[entity_sets].to(query.dtype)  # (N, E_max, E)
        logits = (query[:, None, :] * vectors).sum(-1)  # eq. 7 (N, E_max)
        logits = logits.masked_fill(entity_sets == 0, float("-inf"))
        if rows.numel() == 0:  # no entity in the batch: a zero that keeps the graph
            loss = output.hidden.sum() * 0.0
            return LossOutput(loss, {"loss": 0.0, "entities": 0})
        loss = F.cross_entropy(logits.float(), targets[chosen])
        accuracy = (logits.argmax(-1) == targets[chosen]).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy,
                                 "entities": int(rows.numel())})

    def evaluation_batches(self, model, ids, settings):
        return self.entity_links.evaluation_batches(model, ids, settings)

    def evaluate(self, model, batch: dict) -> dict:
        return self.entity_links.evaluate(model, batch)

    def summarize(self, totals: dict) -> dict:
        return self.entity_links.summarize(totals)
