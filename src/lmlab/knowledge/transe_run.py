"""``lmlab knowledge transe``: TransE on WordNet's graph (or a triples file), with a seeded
held-out split and filtered link prediction (issue 21; ERNIE-THU's entity embeddings).

Writes to the output folder: ``embeddings.safetensors`` + ``entities.txt`` +
``relations.txt`` (:mod:`lmlab.knowledge.embedding_files`), ``held_out.tsv`` (the test
triples), ``transe.json`` (settings, counts, per-epoch loss, MRR / Hits@10 / mean rank) and
``manifest.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lmlab.atomic import write_json, write_text
from lmlab.errors import ConfigError
from lmlab.knowledge.embedding_files import Embeddings, save_embeddings
from lmlab.knowledge.transe import TransE, link_prediction, train_epoch
from lmlab.knowledge.triples import (DEFAULT_RELATIONS, Triple, check_relations,
                                     read_triples, split_triples, wordnet_triples)
from lmlab.knowledge.wordnet import load_wordnet, wordnet_folder
from lmlab.manifest import write_manifest

RESULT = "transe.json"
OPTIMIZERS = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad}
"""Both take sparse gradients; Adagrad (Duchi et al. 2011) scales each row's step by its own
gradient history, so the rare entities of WordNet move as fast as the frequent ones."""


@dataclass
class TransESettings:
    dim: int = 50               # k (Bordes et al. §4.2 chose among {20, 50} for WordNet)
    epochs: int = 20
    margin: float = 2.0         # γ, among {1, 2, 10}
    norm: int = 1               # d = L1 (the paper's choice for WordNet) or L2
    optimizer: str = "adagrad"  # "sgd" is the paper's; at a few minutes' budget on WordNet
    learning_rate: float = 0.1  # it has not left chance level (docs/knowledge.md)
    batch_size: int = 1024
    held_out: float = 0.05      # fraction of triples set aside for link prediction
    eval_triples: int = 2000    # held-out triples ranked (0 = all); a seeded sample
    seed: int = 21
    relations: tuple[str, ...] = DEFAULT_RELATIONS


def _check(settings: TransESettings) -> None:
    for name in ("dim", "epochs", "batch_size"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')}: expected an integer >= 1; got "
                              f"{getattr(settings, name)}")
    if settings.norm not in (1, 2):
        raise ConfigError(f"--norm: expected 1 or 2; got {settings.norm}")
    if settings.optimizer not in OPTIMIZERS:
        raise ConfigError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}; got "
                          f"{settings.optimizer!r}")
    if settings.margin <= 0 or settings.learning_rate <= 0:
        raise ConfigError("--margin and --lr: expected numbers > 0")
    check_relations(settings.relations)


def _ids(triples: list[Triple], entity_ids: dict[str, int],
         relation_ids: dict[str, int]) -> torch.Tensor:
    return torch.tensor([[entity_ids[t.head], relation_ids[t.relation], entity_ids[t.tail]]
                         for t in triples], dtype=torch.long).reshape(-1, 3)  # (N, 3)


def run_transe(out: str | Path, settings: TransESettings, wordnet: str | Path | None = None,
               triples_file: str | Path | None = None, log=print) -> dict:
    """Train, evaluate and save; returns what ``transe.json`` holds."""
    _check(settings)
    out = Path(out)
    started = time.perf_counter()
    if triples_file:
        triples = [t for t in read_triples(triples_file) if t.relation in settings.relations]
        source = str(triples_file)
    else:
        folder = wordnet_folder(wordnet)
        triples = wordnet_triples(load_wordnet(folder), settings.relations)
        source = str(folder)
    if len(triples) < 2:
        raise ConfigError(f"{source}: {len(triples)} triple(s) of the relations "
                          f"{', '.join(settings.relations)}; expected at least 2")
    train, test = split_triples(triples, settings.held_out, settings.seed)
    entities = sorted({t.head for t in triples} | {t.tail for t in triples})
    relations = [r for r in settings.relations if any(t.relation == r for t in triples)]
    entity_ids = {name: i for i, name in enumerate(entities)}
    relation_ids = {name: i for i, name in enumerate(relations)}
    train_ids, test_ids = _ids(train, entity_ids, relation_ids), _ids(test, entity_ids,
                                                                      relation_ids)
    seen = set(train_ids[:, 0].tolist()) | set(train_ids[:, 2].tolist())
    unseen = sum(h not in seen or t not in seen for h, _, t in test_ids.tolist())
    log(f"{len(triples)} triples ({len(train)} train, {len(test)} held out; {unseen} of them "
        f"with an entity not in training), {len(entities)} entities, {len(relations)} "
        f"relations")

    # torch's default (no checks of the sparse gradients' invariants), said explicitly:
    # Adagrad otherwise warns about it on every run
    torch.sparse.check_sparse_tensor_invariants.disable()
    generator = torch.Generator().manual_seed(settings.seed)
    model = TransE(len(entities), len(relations), settings.dim, settings.norm, generator)
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.learning_rate)
    losses = []
    for epoch in range(1, settings.epochs + 1):
        loss = train_epoch(model, optimizer, train_ids, settings.margin, settings.batch_size,
                           generator)
        losses.append(loss / len(train))
        log(f"epoch {epoch}/{settings.epochs}: loss {losses[-1]:.4f} a triple")
    model.normalise_entities()  # the vectors saved are those the last step would read
    train_seconds = time.perf_counter() - started

    ranked = test_ids
    if settings.eval_triples and settings.eval_triples < len(test_ids):
        sample = torch.randperm(len(test_ids), generator=torch.Generator().manual_seed(
            settings.seed))[:settings.eval_triples]
        ranked = test_ids[sample.sort().values]
    known = {tuple(row) for row in torch.cat([train_ids, test_ids]).tolist()}
    metrics = link_prediction(model, ranked, known)
    log(f"filtered link prediction on {metrics['ranked'] // 2} held-out triples: "
        f"MRR {metrics['mrr']:.4f}, Hits@10 {metrics['hits_at_10']:.4f}, "
        f"mean rank {metrics['mean_rank']:.1f}")

    save_embeddings(out, Embeddings(entities, relations, model.entities.weight.detach(),
                                    model.relations.weight.detach()))
    write_text(out / "held_out.tsv", "".join(f"{t.head}\t{t.relation}\t{t.tail}\n"
                                              for t in test))
    result = {"method": "transe", "source": source,
              "settings": {**asdict(settings), "relations": list(settings.relations)},
              "triples": len(triples), "train_triples": len(train),
              "held_out_triples": len(test), "held_out_with_unseen_entity": unseen,
              "entities": len(entities), "relations": relations,
              "epoch_loss": [round(v, 6) for v in losses],
              "link_prediction": {"filtered": True, "ranked_triples": metrics["ranked"] // 2,
                                  "mrr": round(metrics["mrr"], 4),
                                  "hits_at_10": round(metrics["hits_at_10"], 4),
                                  "mean_rank": round(metrics["mean_rank"], 1)},
              "train_seconds": round(train_seconds, 1),
              "seconds": round(time.perf_counter() - started, 1)}
    write_json(out / RESULT, result)
    write_manifest(out)
    return result
