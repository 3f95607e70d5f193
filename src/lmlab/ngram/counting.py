"""Streaming n-gram counting with bounded memory (the first stage of KenLM's ``lmplz``).

Each sentence ``w1 .. wn`` is padded as ``<s>^(N-1) w1 .. wn </s>`` and every window of
N ids ending on a real word or ``</s>`` is one *padded N-gram* (lmplz counts the same
windows: Heafield et al. 2013, "Scalable Modified Kneser-Ney Language Model Estimation",
§3.1). All lower orders, their adjusted counts and raw counts are derived from this one
table (:mod:`lmlab.ngram.tables`).

Memory: the corpus is read in chunks of ``chunk_tokens`` tokens. Each chunk's windows are
packed into uint64 sort keys, sorted and reduced to (unique row, count); sorted chunk tables
are merged pairwise like a log-structured merge tree, so memory is bounded by the number
of *distinct* N-grams, not by the corpus size. With a memory budget (``memory_mb``, lmplz
``-S``) the tables spill to disk as sorted runs that are merged streaming
(:mod:`lmlab.ngram.spill`), so counting is bounded by the budget instead. Estimation then
still builds every order's table in memory (:mod:`lmlab.ngram.tables`).
:func:`count_reference` is the plain-Python twin that the tests compare against.
"""

from __future__ import annotations

import resource
from pathlib import Path
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from lmlab.errors import ConfigError, DataError
from lmlab.ngram import spill
from lmlab.ngram.sorted_rows import unique_rows
from lmlab.ngram.vocab import BOS, EOS, UNK, Vocabulary

MAX_ORDER = 9


@dataclass
class NgramCounts:
    """Distinct padded N-grams and how often each occurred."""

    order: int
    rows: np.ndarray  # (M, N) uint32 word ids, unique rows
    counts: np.ndarray  # (M,) int64
    vocab: Vocabulary
    tokens: int  # words read (without <s>, </s>)
    sentences: int


def check_order(order: int) -> int:
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or not 1 <= order <= MAX_ORDER:
        raise ConfigError(f"n-gram order must be an integer from 1 to {MAX_ORDER}; got {order!r}")
    return int(order)


def _merge(tables: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if len(tables) == 1:
        return tables[0]
    return unique_rows(np.concatenate([t[0] for t in tables]), np.concatenate([t[1] for t in tables]))


def _chunk_table(flat: list[int], order: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(flat, dtype=np.uint32)  # (T,) padded stream
    windows = np.lib.stride_tricks.sliding_window_view(ids, order)  # (T-N+1, N) view
    ends = np.flatnonzero(ids[order - 1:] != BOS)  # windows ending on a word or </s>
    rows = np.ascontiguousarray(windows[ends])
    return unique_rows(rows, np.ones(rows.shape[0], dtype=np.int64))


def count_ngrams(sentences: Iterable[list[str]], order: int, *, chunk_tokens: int = 1 << 20,
                 memory_mb: float | None = None, spill_dir=None) -> NgramCounts:
    """Count padded N-grams of tokenized ``sentences`` (streamed once).

    With ``memory_mb`` (lmplz ``-S``), chunks are sized from the budget and the sorted
    tables spill to disk as runs whenever they outgrow half of it; the runs are merged
    streaming (:mod:`lmlab.ngram.spill`) into a memory-mapped table. ``spill_dir``: where
    the temporary runs go (default ``$LMLAB_CACHE/ngram-spill``).
    """
    order = check_order(order)
    if memory_mb is None:
        return _count(sentences, order, chunk_tokens, None, None)
    if not memory_mb > 0:
        raise ConfigError(f"memory budget must be > 0 MB; got {memory_mb}")
    with spill.spill_folder(spill_dir) as folder:
        return _count(sentences, order, min(chunk_tokens, spill.chunk_tokens_for(memory_mb)),
                      memory_mb, Path(folder))


def _count(sentences, order, chunk_tokens, memory_mb, folder) -> NgramCounts:
    vocab = Vocabulary()
    padding = [BOS] * (order - 1)
    flat: list[int] = []
    stack: list[tuple[np.ndarray, np.ndarray]] = []  # sorted tables, sizes decreasing
    runs: list = []  # (rows path, counts path) of tables spilled to disk
    tokens = sentences_seen = 0
    for words in sentences:
        flat.extend(padding)
        vocab.add_tokens(words, flat)
        flat.append(EOS)
        tokens += len(words)
        sentences_seen += 1
        if len(flat) >= chunk_tokens:
            stack.append(_chunk_table(flat, order))
            flat = []
            # Merge while the newer table is at least half the older: O(log) tables live.
            while len(stack) >= 2 and 2 * stack[-1][0].shape[0] >= stack[-2][0].shape[0]:
                stack[-2:] = [_merge(stack[-2:])]
            if memory_mb is not None and spill.table_bytes(stack) > memory_mb * (1 << 19):
                runs.append(spill.write_run(folder, len(runs), *_merge(stack)))
                stack = []
    if flat:
        stack.append(_chunk_table(flat, order))
    if not stack and not runs:
        raise DataError("the corpus has no words to count")
    if not runs:
        rows, counts = _merge(stack)
    else:
        if stack:
            runs.append(spill.write_run(folder, len(runs), *_merge(stack)))
            stack = []
        block_rows = max(16, int(memory_mb * (1 << 20) / 8 / (len(runs) + 1) / (4 * order + 8)))
        rows, counts = spill.merge_runs(runs, order, len(vocab), folder, block_rows)
    return NgramCounts(order, rows, counts, vocab, tokens, sentences_seen)


def limit_vocabulary(counted: NgramCounts, vocab_limit: int) -> NgramCounts:
    """Keep the ``vocab_limit`` most frequent words (ties: first seen); map the rest to ``<unk>``.

    The mapped words then count as occurrences of ``<unk>``, which becomes an ordinary
    word of the model. Works on the count table, so the corpus is still read once.
    """
    if vocab_limit < 1:
        raise ConfigError(f"vocab_limit must be >= 1; got {vocab_limit}")
    vocab = counted.vocab
    order = counted.order
    last = counted.rows[:, order - 1]
    frequency = np.bincount(last, weights=counted.counts, minlength=len(vocab))
    frequency[[UNK, BOS, EOS]] = -1  # specials are not words of the text
    ranked = np.argsort(-frequency, kind="stable")[:vocab_limit]
    keep = np.sort(ranked[frequency[ranked] > 0])
    new_id = np.full(len(vocab), UNK, dtype=np.uint32)
    new_id[[UNK, BOS, EOS]] = [UNK, BOS, EOS]
    new_id[keep] = np.arange(3, 3 + keep.size, dtype=np.uint32)
    rows, counts = unique_rows(new_id[counted.rows], counted.counts)
    words = list(vocab.words[:3]) + [vocab.words[i] for i in keep]
    return NgramCounts(order, rows, counts, Vocabulary(words), counted.tokens, counted.sentences)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def count_reference(sentences: Iterable[list[str]], order: int) -> Counter:
    """Reference twin: padded N-gram -> count as word tuples, with a plain Counter."""
    counter: Counter = Counter()
    for words in sentences:
        padded = ["<s>"] * (order - 1) + list(words) + ["</s>"]
        for end in range(order - 1, len(padded)):
            counter[tuple(padded[end - order + 1:end + 1])] += 1
    return counter
