"""A backoff n-gram model held as sorted numpy arrays, and its vectorized scorer.

Order k is stored in suffix order as ``keys = parent * V + first_word`` (see
:mod:`lmlab.ngram.tables`), with ``log_prob`` and ``log_backoff`` (log10, ARPA's units).
Entries with ``log_prob = NaN`` are *blanks*: n-grams absent from an ARPA file that are
only there to reach a longer n-gram (SRILM-pruned files can lack suffixes; KenLM inserts
the same blanks).

Scoring follows the ARPA backoff rule, as KenLM's query does: the word's probability comes
from the longest n-gram present (context suffix + word), plus the backoff weights of every
longer context that is present; the sentence starts in the ``<s>`` context, ``</s>`` is
scored, ``<s>`` is not; an out-of-vocabulary word is scored as ``<unk>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain, repeat

import numpy as np

from lmlab.ngram.estimate import Estimate
from lmlab.ngram.tables import OrderTable
from lmlab.ngram.vocab import BOS, EOS, UNK, Vocabulary


@dataclass
class NgramModel:
    vocab: Vocabulary
    first_word: list[np.ndarray]  # per order (M_k,) int64
    parent: list[np.ndarray]  # per order (M_k,) int64 id in order k-1
    keys: list[np.ndarray]  # per order (M_k,) int64 sorted
    log_prob: list[np.ndarray]  # per order (M_k,) float64, NaN = blank
    log_backoff: list[np.ndarray]  # per order (M_k,) float64
    info: dict = field(default_factory=dict)

    @property
    def order(self) -> int:
        return len(self.keys)

    def sizes(self) -> list[int]:
        """N-grams per order as an ARPA header counts them (blanks excluded)."""
        return [int(np.count_nonzero(~np.isnan(p))) for p in self.log_prob]

    @classmethod
    def from_estimate(cls, vocab: Vocabulary, tables: list[OrderTable], est: Estimate,
                      info: dict | None = None) -> "NgramModel":
        """Keep the n-grams that survive pruning; renumber parents accordingly."""
        first_word, parent, keys, log_prob, log_backoff = [], [], [], [], []
        renumber = None
        size = len(vocab)
        for table, kept, lp, lb in zip(tables, est.kept, est.log_prob, est.log_backoff):
            par = table.parent[kept] if renumber is None else renumber[table.parent[kept]]
            fw = table.first_word[kept]
            first_word.append(fw)
            parent.append(par)
            keys.append(fw.copy() if renumber is None else par * size + fw)
            log_prob.append(lp[kept])
            log_backoff.append(lb[kept])
            renumber = np.cumsum(kept) - 1  # old id -> new id (valid where kept)
        return cls(vocab, first_word, parent, keys, log_prob, log_backoff, dict(info or {}))

    def ngram_words(self, k: int) -> np.ndarray:
        """(M_k, k) word ids of the order-k n-grams, first word first."""
        columns = [self.first_word[k - 1]]
        ids = self.parent[k - 1]
        for j in range(k - 1, 0, -1):
            columns.append(self.first_word[j - 1][ids])
            ids = self.parent[j - 1][ids]
        return np.stack(columns, axis=1)

    # ---- scoring -------------------------------------------------------------------
    def score_ids(self, flat: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log10 p of every position of a padded id stream.

        ``flat`` (T,) holds sentences as ``<s> w1 .. wn </s>`` back to back; ``distance``
        (T,) is each position's offset from its sentence's ``<s>``. Returns (scores (T,),
        matched order (T,)); positions holding ``<s>`` get 0.

        Order k looks up only the positions whose (k-1)-gram was found, all at once, with
        the queries sorted first (a sorted ``searchsorted`` walks the keys nearly linearly);
        :meth:`score_ids_reference` is the plain twin.
        """
        size = len(self.vocab)
        positions = flat.shape[0]
        words = flat.astype(np.int64)
        prob = self.log_prob[0][words]  # (T,) the longest match's log10 p so far
        matched = np.ones(positions, dtype=np.int64)
        # backoffs[r-1] = (positions p, backoff of the r-gram ending at p), found ones only
        backoffs = [(np.arange(positions), self.log_backoff[0][words])]
        active = np.flatnonzero(distance >= 1)  # (A,) positions with a found (k-1)-gram
        node = words[active]  # (A,) that (k-1)-gram's id at order k-1
        for k in range(2, self.order + 1):
            keep = distance[active] >= k - 1  # k-1 earlier positions in the sentence (<s> included)
            active, node = active[keep], node[keep]
            keys = self.keys[k - 1]
            if keys.size == 0 or active.size == 0:
                break
            query = node * size + words[active - (k - 1)]  # (A,) parent * V + first word
            sort = np.argsort(query)
            position = np.empty_like(sort)
            position[sort] = np.searchsorted(keys, query[sort])
            np.minimum(position, keys.size - 1, out=position)
            hit = keys[position] == query
            active, node = active[hit], position[hit]
            value = self.log_prob[k - 1][node]
            real = ~np.isnan(value)  # blanks only lead on to longer n-grams
            prob[active[real]] = value[real]
            matched[active[real]] = k
            if k < self.order:
                backoffs.append((active, self.log_backoff[k - 1][node]))
        # A word matched at order m pays the backoffs of the contexts of length m .. N-1
        # that end just before it (those found; the others weigh 0).
        scores = prob.copy()
        for length, (where, backoff) in enumerate(backoffs, start=1):
            inside = where < positions - 1
            where, backoff = where[inside], backoff[inside]
            pays = matched[where + 1] <= length
            scores[where[pays] + 1] += backoff[pays]
        scores[distance == 0] = 0.0
        return scores, matched

    def score_ids_reference(self, flat: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference twin of :meth:`score_ids`: every order over every position."""
        size = len(self.vocab)
        order = self.order
        found = np.ones(flat.shape[0], dtype=bool)  # (T,) the k-gram ending here exists
        ids = flat.astype(np.int64)  # (T,) its id at order k
        matched = np.ones(flat.shape[0], dtype=np.int64)
        prob = self.log_prob[0][ids]
        backoff_by_order = [np.where(found, self.log_backoff[0][ids], 0.0)]
        for k in range(2, order + 1):
            previous_word = np.zeros_like(ids)  # (T,) the word k-1 positions back
            previous_word[k - 1:] = flat[:-(k - 1)]
            candidate = found & (distance >= k - 1)
            query = np.where(candidate, ids * size + previous_word, -1)
            keys = self.keys[k - 1]
            if keys.size == 0:
                found = np.zeros_like(found)
                backoff_by_order.append(np.zeros(flat.shape[0]))
                continue
            position = np.minimum(np.searchsorted(keys, query), keys.size - 1)
            found = candidate & (keys[position] == query)
            ids = np.where(found, position, 0)
            value = self.log_prob[k - 1][ids]
            real = found & ~np.isnan(value)
            prob = np.where(real, value, prob)
            matched = np.where(real, k, matched)
            backoff_by_order.append(np.where(found, self.log_backoff[k - 1][ids], 0.0))
        # tail[r][t] = Σ_{r' >= r} backoff of the (r'+1)-gram ending at t, r' <= order-2;
        # tail[order-1] = 0. A word matched at order m pays the backoffs of the contexts
        # of length m .. order-1 ending at t-1: tail[m-1][t-1].
        backoffs = np.stack(backoff_by_order[:-1] + [np.zeros(flat.shape[0])])  # (order, T)
        tail = np.cumsum(backoffs[::-1], axis=0)[::-1]
        scores = np.zeros(flat.shape[0])
        scores[1:] = prob[1:] + tail[matched[1:] - 1, np.arange(flat.shape[0] - 1)]
        scores[distance == 0] = 0.0
        return scores, matched


def pad_sentences(vocab: Vocabulary, sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat ids, distance from <s>, oov mask) for ``<s> w1 .. wn </s>`` per sentence."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    words = list(chain.from_iterable(sentences))
    word_ids = np.fromiter(map(vocab.word_to_id.get, words, repeat(UNK)), dtype=np.int64,
                           count=len(words))  # one C-level dict lookup per word
    padded = lengths + 2
    starts = np.cumsum(padded) - padded  # (S,) where each <s> goes
    ids = np.empty(int(padded.sum()), dtype=np.int64)
    ids[starts] = BOS
    ids[starts + padded - 1] = EOS
    shift = np.repeat(starts + 1 - (np.cumsum(lengths) - lengths), lengths)  # word i -> its slot
    ids[np.arange(word_ids.shape[0]) + shift] = word_ids
    distance = np.arange(ids.shape[0]) - np.repeat(starts, padded)
    return ids, distance, ids == UNK
