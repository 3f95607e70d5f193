"""Streaming counts equal a plain Counter, whatever the chunk size."""

from __future__ import annotations

import numpy as np
import pytest

from lmlab.errors import ConfigError, DataError
from lmlab.ngram.counting import count_ngrams, count_reference, limit_vocabulary
from tests.ngram.conftest import random_corpus


def as_counter(counted):
    words = counted.vocab.words
    return {tuple(words[i] for i in row): int(c) for row, c in zip(counted.rows.tolist(), counted.counts)}


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("chunk_tokens", [7, 50, 1 << 20])
def test_counts_match_reference(order, chunk_tokens):
    corpus = random_corpus(order)
    counted = count_ngrams(iter(corpus), order, chunk_tokens=chunk_tokens)
    assert as_counter(counted) == dict(count_reference(corpus, order))
    assert counted.tokens == sum(len(s) for s in corpus)
    assert counted.sentences == len(corpus)


def test_vocabulary_numbering_is_lmplz():
    counted = count_ngrams(iter([["b", "a"], ["c", "b"]]), 2)
    assert counted.vocab.words == ["<unk>", "<s>", "</s>", "b", "a", "c"]


def test_limit_vocabulary_maps_rare_words_to_unk():
    corpus = [["a", "a", "b"], ["a", "c"], ["b", "d"]]
    limited = limit_vocabulary(count_ngrams(iter(corpus), 2), 2)
    assert limited.vocab.words == ["<unk>", "<s>", "</s>", "a", "b"]
    mapped = [[w if w in ("a", "b") else "<unk>" for w in s] for s in corpus]
    assert as_counter(limited) == dict(count_reference(mapped, 2))


@pytest.mark.parametrize("order", [0, 10, -1, 2.5, True])
def test_bad_order(order):
    with pytest.raises(ConfigError, match="order must be an integer from 1 to 9"):
        count_ngrams(iter([["a"]]), order)


def test_empty_input():
    with pytest.raises(DataError, match="no words"):
        count_ngrams(iter([]), 3)
