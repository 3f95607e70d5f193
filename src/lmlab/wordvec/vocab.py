"""Vocabulary, frequent-word subsampling and the negative-sampling table (word2vec).

Mikolov et al. 2013b ("Distributed Representations of Words and Phrases and their
Compositionality"), §2.2–2.3, as word2vec.c and gensim implement them:

* the vocabulary keeps words seen at least ``min_count`` times, sorted by descending count,
  ties in *reverse* first-occurrence order — gensim 4's ``sort_by_descending_frequency``
  (``np.lexsort((-indices, -counts))``), so both libraries number words, and build their
  Huffman trees, identically; ``max_vocab`` then keeps
  the most frequent ones (gensim's ``max_final_vocab``: it raises the effective min_count, so
  a tie at the cut-off drops the whole tie);
* subsampling keeps an occurrence of word w with probability
  ``p(w) = (sqrt(f(w) / (t·N)) + 1) · (t·N) / f(w)`` capped at 1, where f(w) is its count,
  N the number of retained tokens and t the ``sample`` threshold (word2vec.c's formula; the
  paper's ``1 - sqrt(t/f)`` is its simpler cousin);
* negatives are drawn from the unigram distribution raised to 3/4, through a cumulative
  table searched with ``bisect_left`` (gensim's ``cum_table``; word2vec.c uses a 1e8-slot
  table of the same distribution).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from lmlab.errors import ConfigError, DataError

# Cumulative table domain: integers drawn below 2**31 - 1 (gensim's make_cum_table).
CUM_TABLE_DOMAIN = 2**31 - 1


@dataclass
class Vocabulary:
    """Words sorted by descending count; ``index[w]`` is the row of ``w``."""

    words: list[str]
    counts: np.ndarray  # (V,) int64

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Number of corpus tokens the vocabulary retains."""
        return int(self.counts.sum())


def count_words(sentences: Iterable[list[str]]) -> Counter:
    """Token counts in first-occurrence order (Counter keeps insertion order)."""
    counts: Counter = Counter()
    for tokens in sentences:
        counts.update(tokens)
    return counts


def build_vocabulary(counts: Counter, min_count: int = 5,
                     max_vocab: int | None = None, source: str = "the corpus") -> Vocabulary:
    """Keep words with ``count >= min_count`` (and at most ``max_vocab`` of them)."""
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1, got {min_count}")
    if not counts:
        raise DataError(f"{source}: the corpus has no tokens")
    effective_min = min_count
    if max_vocab is not None:
        if max_vocab < 1:
            raise ConfigError(f"max_vocab must be >= 1, got {max_vocab}")
        ordered = sorted(counts.values(), reverse=True)
        if max_vocab < len(ordered):
            effective_min = max(min_count, ordered[max_vocab] + 1)
    kept = [(word, count) for word, count in counts.items() if count >= effective_min]
    if not kept:
        raise DataError(f"{source}: no word occurs at least {effective_min} times "
                        f"(largest count {max(counts.values())}); lower min_count")
    kept.reverse()  # then a stable sort by descending count: ties in reverse first occurrence,
    kept.sort(key=lambda item: item[1], reverse=True)  # as gensim's lexsort orders them
    return Vocabulary([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Per-word probability of keeping an occurrence (word2vec.c / gensim formula).

    ``sample <= 0`` disables subsampling (all ones). Returns (V,) float64.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    if sample < 1.0:
        threshold = sample * counts.sum()  # t·N
    else:  # gensim: an integer sample is an absolute count threshold
        threshold = float(sample)
    probability = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.minimum(probability, 1.0)


def keep_thresholds(counts: np.ndarray, sample: float) -> np.ndarray:
    """Keep probabilities as integers in [0, 2**32]: keep when ``random_uint32 <= value``."""
    return np.round(keep_probabilities(counts, sample) * 2**32).astype(np.int64)


def negative_table(counts: np.ndarray, exponent: float = 0.75,
                   domain: int = CUM_TABLE_DOMAIN) -> np.ndarray:
    """Cumulative table of ``count**exponent``, scaled so the last entry is ``domain``.

    Drawing ``bisect_left(table, r % table[-1])`` for uniform r returns word i with
    probability ``count_i**exponent / sum_j count_j**exponent``. Returns (V,) int64.
    """
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    cumulative = np.cumsum(weights)
    return np.round(cumulative / cumulative[-1] * domain).astype(np.int64)


def negative_guide(table: np.ndarray, buckets: int | None = None) -> np.ndarray:
    """Start points that make drawing from ``table`` O(1) (an "indexed search" guide).

    For a draw r in [0, table[-1]), bucket ``b = r·B // table[-1]`` and ``guide[b] =
    bisect_left(table, b·table[-1] // B) <= bisect_left(table, r)``, so a forward scan from
    guide[b] ends at exactly bisect's answer, after ~1 step on average. (B,) int64.
    """
    buckets = buckets or max(len(table), 1)
    lows = (np.arange(buckets, dtype=np.int64) * int(table[-1])) // buckets
    return np.searchsorted(table, lows, side="left").astype(np.int64)
