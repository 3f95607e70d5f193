"""Multi-prototype vectors: AvgSim / AvgSimC (review eq. 26), k-means, sense relabelling."""

import numpy as np
import pytest

from lmlab.wordvec.multiproto import (avg_sim, avg_sim_c, sense_probabilities,
                                      spherical_kmeans)

SQ = 1 / np.sqrt(2)


def test_avg_sim_c_hand_example():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[1.0, 0.0], [SQ, SQ]])
    # cos = [[1, .7071], [0, .7071]]; Σ p_i p'_j cos = .5·.2·1 + .5·.8·.7071 + 0 + .5·.8·.7071
    expected = (0.1 + 0.4 * SQ + 0.4 * SQ) / 4
    assert avg_sim_c(a, b, np.array([0.5, 0.5]), np.array([0.2, 0.8])) == pytest.approx(expected)
    assert avg_sim(a, b) == pytest.approx((1 + SQ + 0 + SQ) / 4)
    # one sense each side reduces to the cosine
    assert avg_sim_c(a[:1], b[1:], np.ones(1), np.ones(1)) == pytest.approx(SQ)


def test_sense_probabilities_softmax():
    p = sense_probabilities(np.array([2.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0]]), beta=1.0)
    e = np.e
    np.testing.assert_allclose(p, [e / (e + 1), 1 / (e + 1)])


def test_spherical_kmeans_separates_directions():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal([5, 0, 0], 0.3, (50, 3)), rng.normal([0, 0, 5], 0.3, (50, 3))])
    centroids = spherical_kmeans(points, 2, rng=np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, rtol=1e-6)
    assignment = np.argmax(points @ centroids.T, axis=1)
    assert len(set(assignment[:50])) == 1 and len(set(assignment[50:])) == 1
    assert assignment[0] != assignment[50]


def test_relabel_splits_an_ambiguous_word():
    pytest.importorskip("numba")
    from lmlab.wordvec.corpus import encode
    from lmlab.wordvec.multiproto import MultiProtoConfig, train_multiproto
    from lmlab.wordvec.vocab import build_vocabulary, count_words
    rng = np.random.default_rng(0)
    money, river = "cash loan deposit money".split(), "water fish shore river".split()
    sentences = []
    for _ in range(300):
        topic = money if rng.random() < 0.5 else river
        words = list(rng.choice(topic, 6))
        words.insert(3, "bank")
        sentences.append(words)
    vocab = build_vocabulary(count_words(sentences), min_count=1)
    config = MultiProtoConfig(vector_size=12, window=3, epochs=3, prototypes=2, multi_words=1,
                              sample=0, min_count=1, workers=1)
    model = train_multiproto(encode(iter(sentences), vocab.index), vocab, config)
    assert list(model.centroids) == ["bank"] and model.senses["bank"].shape == (2, 12)
    assert model.senses["cash"].shape == (1, 12)
    # the two senses of bank lean to different topics
    base, index = model.base_vectors, {w: i for i, w in enumerate(vocab.words)}
    money_context = base[[index[w] for w in money]].mean(axis=0)
    river_context = base[[index[w] for w in river]].mean(axis=0)
    p_money = model._p("bank", money_context)
    p_river = model._p("bank", river_context)
    assert np.argmax(p_money) != np.argmax(p_river)
    assert model.similarity("bank", "cash") == pytest.approx(
        avg_sim(model.senses["bank"], model.senses["cash"]))
