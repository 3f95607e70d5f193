"""Every order's n-grams, raw counts and Kneser-Ney adjusted counts, from padded N-grams.

An order-k table lists the distinct k-grams in *suffix order* (sorted by last word, then
the one before, ...: lmplz's ``SuffixOrder``). A k-gram is stored as (first word, id of
its (k-1)-word suffix), so ``key = parent * V + first_word`` is sorted and a k-gram is
found by binary search once its suffix is found.

Adjusted counts (Chen & Goodman 1998 §3.4 / Kneser & Ney 1995; lmplz ``adjust_counts``):

* the highest order, and any k-gram that starts with ``<s>``, keeps its raw count
  (nothing can precede ``<s>``);
* every other lower-order k-gram gets its continuation count ``N1+(• w1..wk)``: the number
  of distinct (k+1)-grams that end with it (a preceding ``<s>`` counts as one).

Padded windows whose *second* word is ``<s>`` (``<s> <s> w``) are not n-grams: they only
carry the count of their shorter ``<s> w`` suffix, and are dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmlab.ngram.counting import NgramCounts
from lmlab.ngram.vocab import BOS


@dataclass
class OrderTable:
    """The k-grams of one order (k = ``order``), in suffix order."""

    order: int
    first_word: np.ndarray  # (M,) int64 first word of each k-gram
    parent: np.ndarray  # (M,) int64 id of the (k-1)-word suffix in the order k-1 table
    keys: np.ndarray  # (M,) int64 sorted: parent * V + first_word (unigrams: the word id)
    raw: np.ndarray  # (M,) int64 occurrences in the text
    adjusted: np.ndarray  # (M,) int64 Kneser-Ney adjusted count
    context: np.ndarray  # (M,) int64 id of the (k-1)-word prefix; unigrams: -1

    def __len__(self) -> int:
        return int(self.first_word.shape[0])


def build_tables(counted: NgramCounts) -> list[OrderTable]:
    """Tables for orders 1..N (index k-1 holds order k)."""
    order, rows, counts = counted.order, counted.rows, counted.counts
    vocab_size = len(counted.vocab)
    row_ids = rows[:, order - 1].astype(np.int64)  # (M_rows,) id of each row's k-suffix
    unigram_raw = np.bincount(row_ids, weights=counts, minlength=vocab_size).astype(np.int64)
    words = np.arange(vocab_size, dtype=np.int64)
    tables = [OrderTable(1, words, np.zeros(vocab_size, np.int64), words, unigram_raw,
                         unigram_raw.copy(), np.full(vocab_size, -1, np.int64))]
    for k in range(2, order + 1):
        column = rows[:, order - k].astype(np.int64)
        keys, row_ids = np.unique(row_ids * vocab_size + column, return_inverse=True)
        row_ids = row_ids.ravel()
        raw = np.bincount(row_ids, weights=counts, minlength=keys.size).astype(np.int64)
        first, parent = keys % vocab_size, keys // vocab_size
        previous = tables[-1]
        # (M,) a k-gram whose second word is <s> is padding, not an n-gram. Rows already
        # invalid at order k-1 carry the sentinel parent len(previous).
        second_word = np.append(previous.first_word, BOS)[parent] if k > 2 else parent
        valid = second_word != BOS
        # Renumber without the invalid entries; their rows get the sentinel len(valid ids).
        new_id = np.cumsum(valid) - 1
        kept = int(valid.sum())
        row_ids = np.where(valid[row_ids], new_id[row_ids], kept)
        first, parent, raw = first[valid], parent[valid], raw[valid]
        tables.append(OrderTable(k, first, parent, parent * vocab_size + first, raw,
                                 raw.copy(), np.empty(0, np.int64)))
    for k in range(1, order):  # continuation counts for non-<s>-initial lower orders
        table, longer = tables[k - 1], tables[k]
        continuation = np.bincount(longer.parent, minlength=len(table)).astype(np.int64)
        table.adjusted = np.where(table.first_word == BOS, table.raw, continuation)
    for k in range(2, order + 1):  # prefix ids, one binary search per k-gram
        table, shorter = tables[k - 1], tables[k - 2]
        if k == 2:
            table.context = table.first_word.copy()
        else:
            query = shorter.context[table.parent] * vocab_size + table.first_word
            table.context = np.searchsorted(shorter.keys, query)
    return tables
