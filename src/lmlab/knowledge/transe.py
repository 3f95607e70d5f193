"""TransE (Bordes et al. 2013, "Translating Embeddings for Modeling Multi-relational Data").

A relation is a translation: for a true triple (h, ℓ, t), h + ℓ ≈ t. With the dissimilarity
d(h + ℓ, t) = ||h + ℓ − t||_p (p = 1 or 2, §2) the model minimises eq. (1), the margin
ranking loss over each training triple and a corrupted one (head or tail replaced by a
random entity, eq. 2):

    L = Σ_{(h,ℓ,t) ∈ S} Σ_{(h',ℓ,t') ∈ S'} [γ + d(h + ℓ, t) − d(h' + ℓ, t')]_+

Algorithm 1: entities and relations start uniform in ±6/√k, relations are then L2-normalised
once; at each step the entities' L2 norm is set to 1 (here the rows a step reads, right
before it reads them: the other rows are not changed by the step, so this is the same as
normalising all of them), and the step is plain SGD on a minibatch. Filtered link
prediction (§4.2): rank the true head (tail) among every entity, other true triples left
out; report mean reciprocal rank, Hits@10 and mean rank.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TransE(nn.Module):
    """Entity and relation vectors of size ``dim``; ``norm`` is p of the dissimilarity."""

    def __init__(self, num_entities: int, num_relations: int, dim: int, norm: int = 1,
                 generator: torch.Generator | None = None):
        super().__init__()
        if norm not in (1, 2):
            raise ValueError(f"norm must be 1 or 2, got {norm}")
        self.norm = norm
        # sparse: a step's gradient touches only the rows of its batch
        self.entities = nn.Embedding(num_entities, dim, sparse=True)
        self.relations = nn.Embedding(num_relations, dim, sparse=True)
        bound = 6 / math.sqrt(dim)  # Algorithm 1, lines 1-3
        with torch.no_grad():
            self.entities.weight.uniform_(-bound, bound, generator=generator)
            self.relations.weight.uniform_(-bound, bound, generator=generator)
            self.relations.weight.div_(self.relations.weight.norm(dim=1, keepdim=True))

    def distance(self, heads: torch.Tensor, relations: torch.Tensor,
                 tails: torch.Tensor) -> torch.Tensor:
        """d(h + ℓ, t) = ||h + ℓ − t||_p of each triple: ids (B,) → (B,)."""
        translated = self.entities(heads) + self.relations(relations)  # (B, D)
        return torch.linalg.vector_norm(translated - self.entities(tails), ord=self.norm, dim=-1)

    @torch.no_grad()
    def normalise_entities(self, ids: torch.Tensor | None = None) -> None:
        """Set the L2 norm of the given entity rows (all when None) to 1 (Algorithm 1, l. 5)."""
        weight = self.entities.weight
        rows = weight if ids is None else weight[ids]
        rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if ids is None:
            weight.copy_(rows)
        else:
            weight[ids] = rows


def margin_ranking_loss(positive: torch.Tensor, negative: torch.Tensor,
                        margin: float) -> torch.Tensor:
    """Eq. (1): Σ [γ + d(h+ℓ, t) − d(h'+ℓ, t')]_+ over the pairs: (B,), (B,) → scalar."""
    return torch.relu(margin + positive - negative).sum()


def corrupt(triples: torch.Tensor, num_entities: int,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (2): each triple (B, 3) with its head or its tail (one half each, "unif")
    replaced by an entity drawn uniformly."""
    size = triples.shape[0]
    replace_head = torch.rand(size, generator=generator) < 0.5
    random = torch.randint(num_entities, (size,), generator=generator)
    corrupted = triples.clone()
    corrupted[:, 0] = torch.where(replace_head, random, triples[:, 0])
    corrupted[:, 2] = torch.where(replace_head, triples[:, 2], random)
    return corrupted


def train_epoch(model: TransE, optimizer: torch.optim.Optimizer, triples: torch.Tensor,
                margin: float, batch_size: int, generator: torch.Generator) -> float:
    """One pass over the training triples (N, 3) in a seeded order; the summed loss."""
    order = torch.randperm(triples.shape[0], generator=generator)
    total = 0.0
    num_entities = model.entities.num_embeddings
    for start in range(0, len(order), batch_size):
        batch = triples[order[start:start + batch_size]]  # (B, 3): head, relation, tail
        negative = corrupt(batch, num_entities, generator)
        model.normalise_entities(torch.cat([batch[:, 0], batch[:, 2],
                                            negative[:, 0], negative[:, 2]]).unique())
        loss = margin_ranking_loss(model.distance(batch[:, 0], batch[:, 1], batch[:, 2]),
                                   model.distance(negative[:, 0], negative[:, 1],
                                                  negative[:, 2]), margin)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
    return total


@torch.no_grad()
def link_prediction(model: TransE, test: torch.Tensor, known: set[tuple[int, int, int]],
                    batch_size: int = 256) -> dict[str, float]:
    """Filtered ranks (§4.2) of each test triple's head and tail among all entities: every
    other triple in ``known`` (train and test) is left out of the ranking. A rank is 1 +
    the number of candidates strictly closer. (M, 3) → MRR, Hits@10, mean rank, count."""
    tails_of: dict[tuple[int, int], list[int]] = {}
    heads_of: dict[tuple[int, int], list[int]] = {}
    for head, relation, tail in known:
        tails_of.setdefault((head, relation), []).append(tail)
        heads_of.setdefault((relation, tail), []).append(head)
    entities = model.entities.weight  # (N, D)
    ranks = []
    for start in range(0, test.shape[0], batch_size):
        batch = test[start:start + batch_size]  # (B, 3)
        heads, relations, tails = batch[:, 0], batch[:, 1], batch[:, 2]
        rel = model.relations(relations)  # (B, D)
        # tail side: d(h + ℓ, e) for every e; head side: d(e + ℓ, t) = ||e − (t − ℓ)||
        for query, answer, others in (
                (model.entities(heads) + rel, tails,
                 [tails_of[(h, r)] for h, r in zip(heads.tolist(), relations.tolist())]),
                (model.entities(tails) - rel, heads,
                 [heads_of[(r, t)] for r, t in zip(relations.tolist(), tails.tolist())])):
            distances = torch.cdist(query, entities, p=model.norm)  # (B, N)
            true = distances.gather(1, answer[:, None])  # (B, 1)
            for row, candidates in enumerate(others):
                distances[row, candidates] = math.inf  # filtered: other true answers out
            ranks.append(1 + (distances < true).sum(dim=1))
    rank = torch.cat(ranks).double()
    return {"mrr": float((1 / rank).mean()), "hits_at_10": float((rank <= 10).double().mean()),
            "mean_rank": float(rank.mean()), "ranked": int(rank.numel())}
