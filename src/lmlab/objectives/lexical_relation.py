"""LIBERT's lexical relation classification (``lrc``; Lauscher et al. 2020, "Specializing
Unsupervised Pretraining Models for Word-Level Semantic Similarity", §3).

A third pre-training task beside MLM and NSP: a word pair (w1, w2) is fed as
``[CLS] w1 [SEP] w2 [SEP]`` (segments 0 0 0 1 1) and a binary classifier on the ``[CLS]``
vector, y = softmax(W x_CLS + b) (§3.2), says whether the pair is a lexical constraint
(synonyms or hyponym–hypernym, from WordNet: :mod:`lmlab.knowledge.lexical_pairs`) or
not. Each step draws ``batch_size`` positive pairs (seeded by step, so resume is exact)
and makes two negatives of each (w1', w2) and (w1, w2') (§3.1): w1' is the first word of
another pair in the batch — the one whose input embedding is closest (cosine) to w1
(``negatives: similar``, the paper's choice) or one drawn at random (``random``) — and
never one that makes a known positive pair. The pair batch runs its own forward pass;
its loss is added to the run's MLM (+ NSP) loss with ``weight``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from lmlab.errors import ConfigError
from lmlab.knowledge.lexical_pairs import RELATIONS, cached_wordnet, lexical_pairs
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, row_generator
from lmlab.objectives.sentence_pair import PairClassifier

PAIR_STREAM = 7  # row_generator stream of the pair draws (apart from masking's)


@dataclass
class LexicalRelationConfig(ConfigDefaults):
    name: Literal["lrc"] = "lrc"
    weight: float = 1.0
    batch_size: int = 16
    """Positive pairs per step; the step classifies 3 × batch_size pairs (two negatives
    each)."""
    relations: list[str] = field(default_factory=lambda: list(RELATIONS))
    """Which WordNet relations count as positive: synonym, hypernym."""
    negatives: Literal["similar", "random"] = "similar"
    """How w1' / w2' are picked from the batch: nearest by input embedding (the paper) or
    at random."""
    wordnet: str = ""
    """WordNet folder ("" = $LMLAB_WORDNET, else /usr/share/wordnet)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.batch_size < 2:
            raise ConfigError(f"{path}.batch_size: must be >= 2 (negatives come from the "
                              f"batch), got {self.batch_size}")
        bad = [r for r in self.relations if r not in RELATIONS]
        if bad or not self.relations:
            raise ConfigError(f"{path}.relations: expected a non-empty list of "
                              f"{list(RELATIONS)}, got {self.relations}")

    def check_compatible(self, run_config, path: str) -> None:
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: lrc needs a bidirectional encoder")
        if run_config.model.embedding.num_segments < 2:
            raise ConfigError(f"{path}: lrc needs model.embedding.num_segments >= 2")

    def describe(self) -> str:
        return f"lrc ({'+'.join(self.relations)}, {self.negatives})"


def pair_inputs(first: torch.Tensor, second: torch.Tensor, cls_id: int,
                sep_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """first, second: (N,) token ids -> ids and segments (N, 5): [CLS] a [SEP] b [SEP]."""
    count = first.shape[0]
    cls = torch.full((count,), cls_id, dtype=torch.long)
    sep = torch.full((count,), sep_id, dtype=torch.long)
    ids = torch.stack([cls, first, sep, second, sep], dim=1)  # (N, 5)
    segments = torch.tensor([0, 0, 0, 1, 1]).expand(count, 5)
    return ids, segments


def pick_negatives(words: torch.Tensor, partners: torch.Tensor, vectors: torch.Tensor | None,
                   positive_keys: torch.Tensor, vocab_size: int,
                   generator: torch.Generator) -> torch.Tensor:
    """For each row i, the index j != i of the batch word that replaces ``words[i]``.

    words, partners: (K,) ids; vectors: (K, E) input embeddings of ``words`` (None: pick
    at random); positive_keys: sorted (P,) keys ``a * V + b`` of the known pairs (both
    orders), which a negative must not be. A row with no allowed j keeps a random j != i."""
    count = words.shape[0]
    if vectors is None:
        scores = torch.rand(count, count, generator=generator)  # (K, K)
    else:
        unit = F.normalize(vectors.float(), dim=-1)
        scores = unit @ unit.T  # (K, K) cosine
    candidate_keys = words[None, :] * vocab_size + partners[:, None]  # (K, K): (w_j, partner_i)
    forbidden = torch.isin(candidate_keys, positive_keys) | (words[None, :] == words[:, None])
    forbidden |= torch.eye(count, dtype=torch.bool)
    scores = scores.masked_fill(forbidden, float("-inf"))
    fallback = (torch.arange(count) + 1 + torch.randint(0, max(1, count - 1), (count,),
                                                        generator=generator)) % count
    best = scores.argmax(dim=1)  # (K,)
    return torch.where(torch.isinf(scores.max(dim=1).values), fallback, best)


class LexicalRelationObjective(StatelessObjective):
    """Binary lexical relation classification on WordNet word pairs (module docstring)."""

    def __init__(self, config: LexicalRelationConfig, tokenizer, seed: int = 0,
                 pairs: list[tuple[str, str, str]] | None = None):
        super().__init__(config, tokenizer, seed)
        self.cls_id, self.sep_id = tokenizer.cls_id, tokenizer.sep_id
        self.vocab_size = tokenizer.vocab_size
        vocabulary = [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
        ids = {}
        for index in range(tokenizer.num_special, len(vocabulary)):
            ids.setdefault(vocabulary[index].lower(), index)
        if pairs is None:
            pairs = lexical_pairs(cached_wordnet(config.wordnet), list(ids), config.relations)
        distinct = sorted({(ids[a], ids[b]) for a, b, _ in pairs})
        if not distinct:
            raise ConfigError(f"objectives: lrc: no {config.relations} pair of WordNet has both "
                              f"words in the tokenizer's vocabulary of {self.vocab_size}")
        self.pairs = torch.tensor(distinct, dtype=torch.long)  # (P, 2)
        keys = torch.cat([self.pairs[:, 0] * self.vocab_size + self.pairs[:, 1],
                          self.pairs[:, 1] * self.vocab_size + self.pairs[:, 0]])
        self.positive_keys = torch.unique(keys)  # (≤ 2P,) sorted

    def heads(self, model_config, embedding) -> dict:
        return {"lrc": PairClassifier(model_config.embedding.hidden_size, 2)}

    def pair_batch(self, step: int, token_vectors: torch.Tensor | None) -> dict:
        """The step's 3K pairs: ids, segments (3K, 5) and labels (1 = positive) (3K,)."""
        generator = row_generator(self.seed, step, PAIR_STREAM)
        rows = torch.randint(0, self.pairs.shape[0], (self.config.batch_size,), generator=generator)
        first, second = self.pairs[rows, 0], self.pairs[rows, 1]  # (K,)
        similar = self.config.negatives == "similar" and token_vectors is not None
        vectors = (lambda ids: token_vectors[ids]) if similar else (lambda ids: None)
        keys, size = self.positive_keys, self.vocab_size
        new_first = first[pick_negatives(first, second, vectors(first), keys, size, generator)]
        new_second = second[pick_negatives(second, first, vectors(second), keys, size, generator)]
        ids, segments = pair_inputs(torch.cat([first, new_first, first]),
                                    torch.cat([second, second, new_second]),
                                    self.cls_id, self.sep_id)
        labels = torch.cat([torch.ones_like(first), torch.zeros_like(first),
                            torch.zeros_like(first)])
        return {"ids": ids, "segments": segments, "labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        tokens = getattr(model.embedding, "tokens", None)
        vectors = tokens.weight.detach().cpu() if tokens is not None else None  # (V, E)
        pairs = self.pair_batch(int(batch.get("step", 0)), vectors)
        device = next(model.parameters()).device
        output = model(pairs["ids"].to(device), None, pairs["segments"].to(device))
        logits = model.heads["lrc"](output.hidden[:, 0])  # (3K, 2)
        labels = pairs["labels"].to(device)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy})
