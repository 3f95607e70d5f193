"""Modified Kneser-Ney on toy corpora: hand-computed values and normalization."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from lmlab.errors import ConfigError, DataError
from lmlab.ngram.build import build_model
from lmlab.ngram.counting import count_ngrams
from lmlab.ngram.estimate import check_prune, mkn_discounts
from lmlab.ngram.generate import next_word_log10
from lmlab.ngram.score import score_batch
from lmlab.ngram.tables import build_tables
from lmlab.ngram.vocab import BOS
from tests.ngram.conftest import TOY, random_corpus

TOY_TOKENS = [s.split() for s in TOY]


def test_discounts_chen_goodman_eq26():
    # n1=10, n2=5, n3=3, n4=2 -> Y = 10/20; D1 = 1 - 2Y(5/10); D2 = 2 - 3Y(3/5); D3 = 3 - 4Y(2/3)
    adjusted = np.array([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [9])
    assert mkn_discounts(adjusted, 2, False) == pytest.approx([0.5, 1.1, 3 - 4 * 0.5 * 2 / 3])


def test_discounts_fail_on_tiny_data_unless_fallback():
    with pytest.raises(DataError, match="discount_fallback"):
        mkn_discounts(np.array([1, 2, 2]), 1, False)
    assert mkn_discounts(np.array([1, 2, 2]), 1, True) == [0.5, 1.0, 1.5]


def test_toy_continuation_counts():
    counted = count_ngrams(iter(TOY_TOKENS), 2)
    unigrams = build_tables(counted)[0]
    by_word = dict(zip(counted.vocab.words, unigrams.adjusted.tolist()))
    # a <- {<s>, b}; b <- {a, <s>}; c <- {a}; </s> <- {b, c}; <s>, <unk>: 0
    assert by_word == {"<unk>": 0, "<s>": 0, "</s>": 2, "a": 2, "b": 2, "c": 1}


def test_toy_bigram_probabilities_by_hand():
    model = build_model(iter(TOY_TOKENS), 2, discount_fallback=True)
    # unigrams: denominator 7, gamma = (0.5*1 + 1*3)/7 = 0.5, uniform 1/5 (6 words minus <s>)
    p_a = 1 / 7 + 0.5 / 5
    p_c = 0.5 / 7 + 0.5 / 5
    uni = dict(zip(model.vocab.words, (10 ** model.log_prob[0]).tolist()))
    assert uni["a"] == pytest.approx(p_a) and uni["b"] == pytest.approx(p_a)
    assert uni["c"] == pytest.approx(p_c) and uni["<unk>"] == pytest.approx(0.1)
    assert uni["<s>"] == 1.0
    # context a: {a b: 2, a c: 1}: p(b|a) = (2-1)/3 + 0.5 p(b); backoff(a) = log10 0.5
    p_b_given_a = 1 / 3 + 0.5 * p_a
    words = model.vocab.words
    backoff = dict(zip(words, model.log_backoff[0].tolist()))
    assert backoff["a"] == pytest.approx(math.log10(0.5))
    result = score_batch(model, [["a", "b"]])[0]
    assert result.log10_probs.tolist() == pytest.approx([math.log10(p_b_given_a)] * 3)
    # unseen bigram "c a": backoff(c) + log10 p(a) with backoff(c) = log10 0.5
    assert score_batch(model, [["c", "a"]])[0].log10_probs[1] == pytest.approx(
        math.log10(0.5) + math.log10(p_a))


def reference_adjusted(corpus, order):
    """Brute force: distinct left extensions, raw counts for the top order and <s>-initial."""
    raw = defaultdict(int)
    for words in corpus:
        padded = ["<s>"] + words + ["</s>"]
        for end in range(1, len(padded)):
            for k in range(1, order + 1):
                if end - k + 1 >= 0:
                    raw[tuple(padded[end - k + 1:end + 1])] += 1
    extensions = defaultdict(set)
    for gram in raw:
        if len(gram) >= 2:
            extensions[gram[1:]].add(gram[0])
    return {g: (c if len(g) == order or g[0] == "<s>" else len(extensions[g])) for g, c in raw.items()}


@pytest.mark.parametrize("order", [2, 3, 4])
def test_adjusted_counts_match_brute_force(order):
    corpus = random_corpus(10 + order)
    counted = count_ngrams(iter(corpus), order)
    tables = build_tables(counted)
    words = counted.vocab.words
    got = {}
    strings = None
    for table in tables:
        if table.order == 1:
            strings = [(w,) for w in words]
        else:
            strings = [(words[f],) + strings[p] for f, p in zip(table.first_word.tolist(), table.parent.tolist())]
        for gram, a in zip(strings, table.adjusted.tolist()):
            if gram not in (("<s>",), ("<unk>",)):
                got[gram] = a
    assert got == reference_adjusted(corpus, order)


def contexts_of(model):
    """Every context the model stores (orders 1..N-1, not ending in </s>), plus the empty one."""
    yield []
    for k in range(1, model.order):
        for row in model.ngram_words(k).tolist():
            if row[-1] != 2:
                yield row


@pytest.mark.parametrize("smoothing", ["mkn", "kn", "wb", "addk"])
@pytest.mark.parametrize("prune", [None, [0, 1]])
def test_every_context_sums_to_one(smoothing, prune):
    model = build_model(iter(random_corpus(3, sentences=80)), 3, smoothing=smoothing,
                        prune=prune, discount_fallback=True)
    for context in contexts_of(model):
        probs = 10 ** next_word_log10(model, context)
        probs[BOS] = 0.0
        assert probs.sum() == pytest.approx(1.0, abs=1e-6), (smoothing, context)


def test_pruning_drops_singletons_only_above_unigrams():
    corpus = random_corpus(5, sentences=80)
    full = build_model(iter(corpus), 3, discount_fallback=True)
    pruned = build_model(iter(corpus), 3, prune=[0, 0, 1], discount_fallback=True)
    assert pruned.sizes()[:2] == full.sizes()[:2]
    assert pruned.sizes()[2] < full.sizes()[2]


@pytest.mark.parametrize("prune, message", [([1], "unigram pruning"), ([0, 2, 1], "non-decreasing"),
                                            ([0, -1], "integers >= 0"), ([0, 0, 0, 0], "at most one")])
def test_bad_prune(prune, message):
    with pytest.raises(ConfigError, match=message):
        check_prune(prune, 3)
