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


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_spilled_counts_equal_in_memory_counts(order, tmp_path):
    corpus = random_corpus(order + 10, sentences=400, vocab=30)
    in_memory = count_ngrams(iter(corpus), order, chunk_tokens=50)
    spilled = count_ngrams(iter(corpus), order, chunk_tokens=50, memory_mb=0.005, spill_dir=tmp_path)
    assert np.array_equal(np.asarray(spilled.rows), in_memory.rows)
    assert np.array_equal(np.asarray(spilled.counts), in_memory.counts)
    assert spilled.vocab.words == in_memory.vocab.words
    assert not any(tmp_path.rglob("*.npy"))  # temporary runs are gone


def test_merge_runs_small_blocks(tmp_path):
    from lmlab.ngram.sorted_rows import unique_rows
    from lmlab.ngram.spill import merge_runs, write_run
    rng = np.random.default_rng(0)
    runs, everything = [], []
    for index in range(4):
        rows = rng.integers(0, 6, size=(300, 3)).astype(np.uint32)
        everything.append(rows)
        runs.append(write_run(tmp_path, index, *unique_rows(rows, np.ones(300, np.int64))))
    rows, counts = merge_runs(runs, 3, 6, tmp_path, block_rows=7)
    want_rows, want_counts = unique_rows(np.concatenate(everything), np.ones(1200, np.int64))
    assert np.array_equal(np.asarray(rows), want_rows) and np.array_equal(np.asarray(counts), want_counts)


def test_memory_budget_build_equals_in_memory_build(tmp_path):
    from lmlab.ngram.build import build_model
    corpus = random_corpus(21, sentences=300, vocab=15)
    a = build_model(iter(corpus), 3, discount_fallback=True)
    b = build_model(iter(corpus), 3, discount_fallback=True, chunk_tokens=40, memory_mb=0.005,
                    spill_dir=tmp_path)
    for k in range(3):
        assert np.array_equal(a.keys[k], b.keys[k])
        assert np.array_equal(a.log_prob[k], b.log_prob[k])
        assert np.array_equal(a.log_backoff[k], b.log_backoff[k])


def test_counting_with_a_budget_stays_within_it_however_large_the_corpus(tmp_path):
    """Issue 16: a corpus of mostly unique trigrams, 4x larger, counted with a 1 MiB
    budget: the Python/NumPy peak does not grow with it (it does, about 4x, without)."""
    import random
    import tracemalloc

    rng = random.Random(0)
    words = [f"w{i}" for i in range(20_000)]

    def corpus(sentences):
        return ([rng.choice(words) for _ in range(20)] for _ in range(sentences))

    peaks = {}
    for budget in (1.0, None):
        for sentences in (5_000, 20_000):  # 100k and 400k tokens
            tracemalloc.start()
            counts = count_ngrams(corpus(sentences), 3, memory_mb=budget,
                                  spill_dir=tmp_path / f"s{sentences}")
            peaks[budget, sentences] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert int(np.asarray(counts.counts).sum()) > 0
    assert peaks[1.0, 20_000] < 1.5 * peaks[1.0, 5_000], peaks
    assert peaks[None, 20_000] > 2.5 * peaks[None, 5_000], peaks  # the test can tell
