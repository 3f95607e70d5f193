"""TransE (Bordes et al. 2013): eq. (1) on a 3-entity graph, corruption, normalisation,
filtered ranks, the triples and the embedding files."""

from __future__ import annotations

import math

import pytest
import torch

from lmlab.errors import ConfigError, DataError
from lmlab.knowledge.embedding_files import Embeddings, load_embeddings, save_embeddings
from lmlab.knowledge.transe import (TransE, corrupt, link_prediction, margin_ranking_loss,
                                    train_epoch)
from lmlab.knowledge.triples import (Triple, check_relations, read_triples, split_triples,
                                     wordnet_triples)


def three_entity_model(norm: int) -> TransE:
    """e0 = (0, 0), e1 = (1, 0), e2 = (0, 1); one relation ℓ = (1, 0): (e0, ℓ, e1) is exact."""
    model = TransE(3, 1, 2, norm=norm)
    with torch.no_grad():
        model.entities.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        model.relations.weight.copy_(torch.tensor([[1.0, 0.0]]))
    return model


@pytest.mark.parametrize("norm, negative_distances, loss", [
    (1, [2.0, 1.0], 1.0),                     # [2 + 0 - 2]_+ + [2 + 0 - 1]_+
    (2, [math.sqrt(2), 1.0], 3 - math.sqrt(2)),  # [2 - √2]_+ + [2 - 1]_+
])
def test_loss_and_margin_on_a_three_entity_graph(norm, negative_distances, loss):
    model = three_entity_model(norm)
    heads, relations, tails = torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 1])
    positive = model.distance(heads, relations, tails)
    # corrupted: (e0, ℓ, e2) has its tail replaced, (e2, ℓ, e1) its head
    negative = model.distance(torch.tensor([0, 2]), relations, torch.tensor([2, 1]))
    assert positive.tolist() == [0.0, 0.0]
    assert negative.tolist() == pytest.approx(negative_distances)
    assert float(margin_ranking_loss(positive, negative, margin=2.0).detach()) == pytest.approx(loss)
    # a negative further than γ from the positive adds nothing (and no gradient)
    assert float(margin_ranking_loss(positive, negative, margin=1.0).detach()) == 0.0


def test_the_hinge_only_moves_violating_pairs():
    model = three_entity_model(norm=1)
    with torch.no_grad():
        model.entities.weight[1] = torch.tensor([1.0, 0.5])  # d(e0 + ℓ, e1) = 0.5
    positive = model.distance(torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 1]))
    negative = model.distance(torch.tensor([0, 2]), torch.tensor([0, 0]), torch.tensor([2, 1]))
    assert negative.tolist() == [2.0, 0.5]
    assert float(margin_ranking_loss(positive, negative, margin=0.0).detach()) == 0.0
    loss = margin_ranking_loss(positive, negative, margin=1.0)  # [1+.5-2]_+ + [1+.5-.5]_+
    assert float(loss.detach()) == 1.0
    loss.backward()
    grad = model.entities.weight.grad.to_dense()
    # only the second pair: d||e0 + ℓ - e1||_1 with e0 + ℓ - e1 = (0, -.5), minus
    # d||e2 + ℓ - e1||_1 with e2 + ℓ - e1 = (0, .5); the first pair would add (-1, 0) to e0
    assert grad.tolist() == [[0.0, -1.0], [0.0, 2.0], [0.0, -1.0]]


def test_corruption_replaces_exactly_one_side():
    triples = torch.tensor([[0, 0, 1]] * 200)
    corrupted = corrupt(triples, 1000, torch.Generator().manual_seed(0))
    head_changed = corrupted[:, 0] != 0
    tail_changed = corrupted[:, 2] != 1
    assert not (head_changed & tail_changed).any()
    assert (corrupted[:, 1] == 0).all()
    assert 70 < int(head_changed.sum()) < 130  # "unif": one half each


def test_initialisation_and_entity_normalisation():
    model = TransE(10, 3, 4, generator=torch.Generator().manual_seed(0))
    assert model.relations.weight.detach().norm(dim=1).tolist() == pytest.approx([1.0] * 3)
    assert model.entities.weight.abs().max() <= 6 / math.sqrt(4)
    model.normalise_entities(torch.tensor([2, 5]))
    norms = model.entities.weight.detach().norm(dim=1)
    assert norms[[2, 5]].tolist() == pytest.approx([1.0, 1.0])
    assert norms[0] != pytest.approx(1.0)


def test_filtered_ranks_leave_other_true_triples_out():
    # e0 + ℓ lands on e1; e3 is as close, e2 is closer than e3 but a known true tail
    model = TransE(4, 1, 2, norm=1)
    with torch.no_grad():
        model.entities.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.2], [1.0, 0.1],
                                                  [1.0, 0.0]]))
        model.relations.weight.copy_(torch.tensor([[1.0, 0.0]]))
    test = torch.tensor([[0, 0, 1]])
    unfiltered = link_prediction(model, test, {(0, 0, 1)})
    filtered = link_prediction(model, test, {(0, 0, 1), (0, 0, 2), (0, 0, 3)})
    # tail side: d to e1, e2, e3 = 0.2, 0.1, 0 → rank 3 raw, 1 filtered. Head side:
    # e1 - ℓ = (0, .2): e0 at .2, e1 at 1, e2 at 1.1, e3 at 1.2 → rank 1 either way
    assert unfiltered["mrr"] == pytest.approx((1 / 3 + 1) / 2)
    assert filtered["mrr"] == 1.0 and filtered["hits_at_10"] == 1.0
    assert filtered["mean_rank"] == 1.0 and filtered["ranked"] == 2


def test_transe_learns_a_small_graph():
    # two relations on 40 entities: "next" i → i+1 and "back" i+1 → i
    triples = torch.tensor([[i, 0, i + 1] for i in range(39)] + [[i + 1, 1, i] for i in range(39)])
    generator = torch.Generator().manual_seed(0)
    model = TransE(40, 2, 16, norm=1, generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    first = train_epoch(model, optimizer, triples, 1.0, 16, generator)
    for _ in range(150):
        last = train_epoch(model, optimizer, triples, 1.0, 16, generator)
    assert last < first / 5
    model.normalise_entities()
    known = {tuple(t) for t in triples.tolist()}
    assert link_prediction(model, triples[:10], known)["hits_at_10"] > 0.9


def test_wordnet_triples_and_the_split(wordnet):
    triples = wordnet_triples(wordnet, ("hypernym", "antonym"))
    assert Triple("02084071-n", "hypernym", "02083346-n") in triples  # dog → canine
    assert Triple("01123148-a", "antonym", "01125429-a") in triples  # good ↔ bad
    assert len(triples) == len(set(triples))
    assert sum(t.relation == "hypernym" for t in triples) == 89_089
    train, test = split_triples(triples, 0.05, seed=21)
    assert len(test) == round(0.05 * len(triples)) and len(train) + len(test) == len(triples)
    entities = {t.head for t in train} | {t.tail for t in train}
    assert all(t.head in entities and t.tail in entities for t in test)
    assert split_triples(triples, 0.05, seed=21)[1] == test  # seeded


def test_the_split_keeps_every_entity_in_training():
    triples = [Triple("a", "hypernym", "b"), Triple("b", "hypernym", "c"),
               Triple("c", "hypernym", "d"), Triple("a", "hypernym", "c")]
    for seed in range(10):
        train, test = split_triples(triples, 0.5, seed)
        # c-d never goes (d has no other triple); two are wanted, but taking a-b first
        # leaves a and b one triple each, and nothing else may go
        assert "cd" not in {t.head + t.tail for t in test}
        assert 1 <= len(test) <= 2 and len(train) + len(test) == 4
        kept = {t.head for t in train} | {t.tail for t in train}
        assert kept == {"a", "b", "c", "d"}


@pytest.mark.parametrize("relations", [("hypernym", "is_a"), ()])
def test_an_unknown_relation_is_refused(relations):
    with pytest.raises(ConfigError, match="--relations: (unknown relation 'is_a'|no relation)"):
        check_relations(relations)


def test_read_triples_names_file_and_line(tmp_path):
    path = tmp_path / "kb.tsv"
    path.write_text("a\thypernym\tb\nb\tantonym\tc\n")
    assert read_triples(path) == [Triple("a", "hypernym", "b"), Triple("b", "antonym", "c")]
    path.write_text("a\thypernym\tb\nb\tis_a\tc\n")
    with pytest.raises(DataError, match=r"kb\.tsv, line 2: unknown relation 'is_a'"):
        read_triples(path)
    path.write_text("a hypernym b\n")
    with pytest.raises(DataError, match=r"kb\.tsv, line 1: expected head<TAB>relation<TAB>tail"):
        read_triples(path)
    with pytest.raises(DataError, match=r"nothing\.tsv: no such triples file"):
        read_triples(tmp_path / "nothing.tsv")


def test_embedding_files_round_trip_and_refuse_a_foreign_vocabulary(tmp_path):
    saved = Embeddings(["a", "b", "c"], ["hypernym"], torch.arange(6.0).reshape(3, 2),
                       torch.ones(1, 2))
    save_embeddings(tmp_path, saved)
    loaded = load_embeddings(tmp_path)
    assert loaded.entities == ["a", "b", "c"] and loaded.relations == ["hypernym"]
    assert loaded.entity("b").tolist() == [2.0, 3.0]
    (tmp_path / "entities.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match=r"entities\.txt: 2 names, but embeddings\.safetensors "
                                        r"holds 3 entities vectors; the vocabulary does not"):
        load_embeddings(tmp_path)
    (tmp_path / "entities.txt").write_text("a\nb\na\n")
    with pytest.raises(DataError, match=r"entities\.txt, line 3: 'a' repeats line 1"):
        load_embeddings(tmp_path)
    (tmp_path / "relations.txt").unlink()
    (tmp_path / "entities.txt").write_text("a\nb\nc\n")
    with pytest.raises(DataError, match=r"relations\.txt: no such vocabulary file"):
        load_embeddings(tmp_path)
