"""Huffman codes, negative-sampling table, subsampling, vocabulary: exact small cases."""

from collections import Counter

import numpy as np
import pytest

from lmlab.errors import ConfigError, DataError
from lmlab.wordvec.huffman import build_huffman, hs_probabilities
from lmlab.wordvec.vocab import (CUM_TABLE_DOMAIN, build_vocabulary, keep_probabilities,
                                 keep_thresholds, negative_guide, negative_table)

# The textbook example (CLRS 16.3): optimal Huffman cost is 224 bits.
TOY_COUNTS = np.array([45, 16, 13, 12, 9, 5])


def test_huffman_codes_are_prefix_free_and_optimal():
    tree = build_huffman(TOY_COUNTS)
    codes = ["".join(map(str, tree.code(w))) for w in range(len(TOY_COUNTS))]
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            if i != j:
                assert not b.startswith(a), (a, b)
    assert int((tree.lengths * TOY_COUNTS).sum()) == 224
    assert tree.lengths.tolist() == [1, 3, 3, 3, 4, 4]
    # every path starts at the root (the last merge, V-2) and inner nodes are 0..V-2
    assert all(tree.path(w)[0] == len(TOY_COUNTS) - 2 for w in range(len(TOY_COUNTS)))
    assert tree.points.max() == len(TOY_COUNTS) - 2


def test_huffman_single_word():
    tree = build_huffman(np.array([7]))
    assert tree.lengths.tolist() == [0]


def test_hs_probabilities_sum_to_one():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 100, size=37)
    tree = build_huffman(counts)
    syn1 = rng.normal(size=(36, 8)).astype(np.float32)
    probabilities = hs_probabilities(rng.normal(size=8).astype(np.float32), syn1, tree)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    assert (probabilities > 0).all()


def test_negative_table_proportions():
    counts = np.array([16, 81, 1, 256])
    table = negative_table(counts, 0.75)
    weights = counts ** 0.75  # 8, 27, 1, 64 → sum 100
    assert table[-1] == CUM_TABLE_DOMAIN
    shares = np.diff(np.concatenate([[0], table])) / CUM_TABLE_DOMAIN
    np.testing.assert_allclose(shares, weights / weights.sum(), atol=2 / CUM_TABLE_DOMAIN)
    # bisect_left over an evenly spread set of draws hits each word in proportion
    draws = np.linspace(0, table[-1] - 1, 100_000).astype(np.int64)
    hits = np.bincount(np.searchsorted(table, draws), minlength=4) / len(draws)
    np.testing.assert_allclose(hits, [0.08, 0.27, 0.01, 0.64], atol=1e-4)


@pytest.mark.parametrize("sample", [1e-3, 1e-5])
def test_keep_probabilities_equal_the_formula(sample):
    counts = np.array([50_000, 3_000, 200, 7])
    total = counts.sum()
    expected = [min(1.0, (np.sqrt(c / (sample * total)) + 1) * sample * total / c) for c in counts]
    np.testing.assert_allclose(keep_probabilities(counts, sample), expected, rtol=1e-12)
    thresholds = keep_thresholds(counts, sample)
    np.testing.assert_array_equal(thresholds, np.round(np.array(expected) * 2**32))
    if sample == 1e-3:
        assert thresholds[-1] == 2**32  # a rare word is always kept


def test_keep_probability_hand_value():
    # t·N = 1e-3 · 1e6 = 1000; f = 100000: (sqrt(100) + 1) · 1000 / 100000 = 0.11
    counts = np.array([100_000, 900_000])
    assert keep_probabilities(counts, 1e-3)[0] == pytest.approx(0.11)
    assert keep_probabilities(counts, 0.0).tolist() == [1.0, 1.0]


def test_vocabulary_order_min_count_max_vocab():
    counts = Counter("b a a c c c d d d b e".split())  # b2 a2 c3 d3 e1
    vocab = build_vocabulary(counts, min_count=2)
    # ties in reverse first-occurrence order, as gensim 4's lexsort((-indices, -counts))
    assert vocab.words == ["d", "c", "a", "b"]
    assert vocab.counts.tolist() == [3, 3, 2, 2]
    # max_vocab=3 cuts inside the 2-2 tie: like gensim, the whole tie goes
    assert build_vocabulary(counts, 1, max_vocab=3).words == ["d", "c"]
    with pytest.raises(DataError, match="no word occurs at least 4 times"):
        build_vocabulary(counts, min_count=4)
    with pytest.raises(DataError, match="no tokens"):
        build_vocabulary(Counter(), min_count=1)
    with pytest.raises(ConfigError):
        build_vocabulary(counts, min_count=0)


def test_negative_guide_gives_bisects_answer():
    rng = np.random.default_rng(0)
    table = negative_table(rng.integers(1, 10_000, size=500))
    guide = negative_guide(table)
    draws = np.concatenate([rng.integers(0, table[-1], 20_000), table[:-1], table[:-1] + 1, [0]])
    for r in draws:
        i = guide[(r * len(guide)) // table[-1]]
        while table[i] < r:
            i += 1
        assert i == np.searchsorted(table, r, side="left")
