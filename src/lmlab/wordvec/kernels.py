"""Compiled word2vec training kernels (numba): the fast path.

One call trains a *job* — a range of sentences — with skip-gram or CBOW and hierarchical
softmax and/or negative sampling, exactly as word2vec.c / gensim's ``word2vec_inner.pyx``
define the updates (Mikolov et al. 2013a eq. 1–2 for the models; 2013b eq. 4 for negative
sampling; Morin & Bengio 2005 for hierarchical softmax):

* subsampling decides per occurrence with a 32-bit draw against ``keep_int`` (vocab.py);
* each kept position i draws ``b = rand % window`` and uses the window ``window - b``
  (the "dynamic window" that weighs near words more);
* skip-gram: for every context word c of centre word w, the *input* vector is ``syn0[c]``
  and the predicted word is w (gensim's pair order);
* CBOW: the input is the sum (or mean) of the context vectors; its error is added to each
  context vector (divided by the count for the sum variant, as gensim does);
* dot products outside [-6, 6] are skipped, as in gensim's ``MAX_EXP`` test; the sigmoid
  is read from word2vec.c's 1000-entry table at index ``int((x + 6) · 83)`` — 83, not
  83.33: word2vec.c's ``EXP_TABLE_SIZE / MAX_EXP / 2`` is C integer division, and gensim's
  Cython compiles to the same integer expression, so both look up sigmoid(0.996·x − 0.024).

Hot rows are job-local. Every skip-gram HS pair walks through the root of the Huffman tree,
and negative sampling keeps drawing the same few frequent words, so with two threads the
same few ``syn1`` / ``syn1neg`` rows are written by both cores all the time, and their cache
lines bounce between them (skip-gram HS scaled only 1.2–1.5× from one to two threads). Each
job therefore copies the ``HOT_ROWS`` hottest rows of each output matrix — the last Huffman
merges (the top of the tree: merged counts never decrease) and the most frequent words (the
vocabulary is sorted by count) — trains on the copies, and at the end adds its change to the
shared rows. With one worker this is bit-for-bit the in-place update (a row nobody else
touched is written back as is); with several, a thread sees the others' updates to those
rows at job boundaries (~10k words) instead of at once, a milder form of the Hogwild
staleness that word2vec.c and gensim already accept for every row.

Random numbers come from word2vec.c's 64-bit LCG (``r = r·25214903917 + 11``; the draw is
``r >> 16``), so :mod:`lmlab.wordvec.reference` reproduces the same decisions in NumPy and
tests compare the two. The kernels release the GIL (``nogil``): Python threads run jobs in
parallel on shared arrays, lock-free ("Hogwild", like word2vec.c and gensim). Each job
allocates its own scratch buffers, so two threads never write to one cache line of scratch
(buffers allocated side by side in Python could share a line and ping-pong between cores).

This module imports numba at import time (``lmlab.wordvec.word2vec`` imports it at its top
and falls back to the NumPy twin, ``backend="numpy"``, where numba is missing). The
kernels compile on their first call, not at import.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lmlab.wordvec.reference import SIGMOID_INDEX_SCALE, sigmoid_table

_MULTIPLIER = np.uint64(25214903917)
_INCREMENT = np.uint64(11)
_SHIFT = np.uint64(16)
_MASK32 = np.uint64(0xFFFFFFFF)
MAX_EXP = 6.0
HOT_ROWS = 64  # rows of syn1 and of syn1neg each job keeps a private copy of
_SIGMOID = sigmoid_table()  # frozen into the compiled code as a constant
_SCALE = float(SIGMOID_INDEX_SCALE)  # 83: word2vec.c's integer EXP_TABLE_SIZE / MAX_EXP / 2


@njit(inline="always", error_model="numpy")
def _advance(state):
    return state * _MULTIPLIER + _INCREMENT


@njit(inline="always", error_model="numpy")
def _draw32(state):
    return np.int64((state >> _SHIFT) & _MASK32)


@njit(inline="always", error_model="numpy")
def _sigmoid(x):
    """Table lookup as in word2vec.c / gensim (x inside (-MAX_EXP, MAX_EXP))."""
    return _SIGMOID[int((x + MAX_EXP) * _SCALE)]


@njit(inline="always", error_model="numpy")
def _draw_negative(cum_table, guide, value):
    """``bisect_left(cum_table, value)`` in O(1) expected time.

    ``guide[b]`` is bisect_left of the bucket's lowest value (vocab.negative_guide), a
    lower bound of the answer; a short forward scan finishes. Same result as bisect.
    """
    buckets = guide.shape[0]
    i = guide[(value * buckets) // cum_table[cum_table.shape[0] - 1]]
    while cum_table[i] < value:
        i += 1
    return i


@njit(inline="always", error_model="numpy")
def _copy_rows(matrix, first, count):
    """Job-local copies of rows [first, first+count): (rows, their starting values), (K, D) each."""
    rows = matrix[first:first + count].copy()
    return rows, rows.copy()


@njit(inline="always", error_model="numpy")
def _merge_rows(matrix, first, rows, start):
    """Add the job's change (rows - start) to the shared rows; untouched entries get rows as is."""
    for k in range(rows.shape[0]):
        shared = matrix[first + k]  # (D,) view
        for d in range(rows.shape[1]):
            if shared[d] == start[k, d]:
                shared[d] = rows[k, d]  # nobody else wrote it: exactly the in-place result
            else:
                shared[d] += rows[k, d] - start[k, d]


@njit(inline="always", error_model="numpy")
def _hs_update(l1, syn1, codes, points, length, word, alpha, work, hot, hot_first):
    """Hierarchical softmax step for input vector l1 (D,) predicting ``word``.
    Inner nodes >= hot_first are read and written in ``hot`` (the job-local top of the tree)."""
    size = l1.shape[0]
    for b in range(length):
        node = points[word, b]
        out = hot[node - hot_first] if node >= hot_first else syn1[node]  # (D,) view
        dot = np.float32(0.0)
        for d in range(size):
            dot += l1[d] * out[d]
        if dot <= -MAX_EXP or dot >= MAX_EXP:
            continue
        g = np.float32((1.0 - codes[word, b] - _sigmoid(dot)) * alpha)
        for d in range(size):
            work[d] += g * out[d]
            out[d] += g * l1[d]


@njit(inline="always", error_model="numpy")
def _ns_update(l1, syn1neg, cum_table, guide, negative, word, alpha, work, state, hot):
    """Negative-sampling step for input l1 (D,) with positive ``word``; returns the RNG state.
    Words below ``len(hot)`` (the most frequent) are read and written in ``hot``."""
    size = l1.shape[0]
    table_max = cum_table[cum_table.shape[0] - 1]
    for k in range(negative + 1):
        if k == 0:
            target = word
            label = 1.0
        else:
            target = _draw_negative(cum_table, guide, np.int64(state >> _SHIFT) % table_max)
            state = _advance(state)
            if target == word:
                continue
            label = 0.0
        out = hot[target] if target < hot.shape[0] else syn1neg[target]  # (D,) view
        dot = np.float32(0.0)
        for d in range(size):
            dot += l1[d] * out[d]
        if dot <= -MAX_EXP or dot >= MAX_EXP:
            continue
        g = np.float32((label - _sigmoid(dot)) * alpha)
        for d in range(size):
            work[d] += g * out[d]  # reads out[d] before its update: same as two loops
            out[d] += g * l1[d]
    return state


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def train_job(syn0, syn1, syn1neg, ids, offsets, first, last, keep_int, do_sample,
              cum_table, guide, codes, points, code_lengths, skipgram, cbow_mean, hs, negative,
              window, alpha, seed):
    """Train sentences [first, last); returns the number of tokens kept by subsampling.

    syn0 (V, D), syn1 (V-1, D) or empty, syn1neg (V, D) or empty — updated in place.
    """
    size = syn0.shape[1]
    longest = 0
    for s in range(first, last):
        longest = max(longest, offsets[s + 1] - offsets[s])
    sentence = np.empty(longest, np.int32)  # kept ids of the current sentence
    reduced = np.empty(longest, np.int64)  # window shrink per kept position
    work = np.empty(size, np.float32)  # (D,) error accumulated for the input vector
    neu1 = np.empty(size, np.float32)  # (D,) CBOW's context sum / mean
    state = np.uint64(seed)
    kept_total = 0
    hot_first = max(syn1.shape[0] - HOT_ROWS, 0)  # the last merges: the top of the Huffman tree
    hot_hs, start_hs = _copy_rows(syn1, hot_first, syn1.shape[0] - hot_first)  # (K, D)
    hot_ns, start_ns = _copy_rows(syn1neg, 0, min(HOT_ROWS, syn1neg.shape[0]))  # (K, D)
    for s in range(first, last):
        n = 0
        for t in range(offsets[s], offsets[s + 1]):
            word = ids[t]
            if do_sample:
                draw = _draw32(state)
                state = _advance(state)
                if keep_int[word] < draw:
                    continue
            sentence[n] = word
            n += 1
        kept_total += n
        for i in range(n):
            reduced[i] = _draw32(state) % window
            state = _advance(state)
        for i in range(n):
            span = window - reduced[i]
            lo = max(0, i - span)
            hi = min(n, i + span + 1)
            word = sentence[i]
            if skipgram:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    context = sentence[j]
                    l1 = syn0[context]
                    work[:] = 0.0
                    if hs:
                        _hs_update(l1, syn1, codes, points, code_lengths[word], word, alpha, work,
                                   hot_hs, hot_first)
                    if negative > 0:
                        state = _ns_update(l1, syn1neg, cum_table, guide, negative, word, alpha,
                                           work, state, hot_ns)
                    for d in range(size):
                        l1[d] += work[d]
            else:
                neu1[:] = 0.0
                count = 0
                for j in range(lo, hi):
                    if j != i:
                        count += 1
                        source = syn0[sentence[j]]  # (D,) view
                        for d in range(size):
                            neu1[d] += source[d]
                if count == 0:
                    continue
                inv_count = np.float32(1.0 / count)
                if cbow_mean:
                    for d in range(size):
                        neu1[d] *= inv_count
                work[:] = 0.0
                if hs:
                    _hs_update(neu1, syn1, codes, points, code_lengths[word], word, alpha, work,
                               hot_hs, hot_first)
                if negative > 0:
                    state = _ns_update(neu1, syn1neg, cum_table, guide, negative, word, alpha,
                                       work, state, hot_ns)
                if not cbow_mean:
                    for d in range(size):
                        work[d] *= inv_count
                for j in range(lo, hi):
                    if j != i:
                        target = syn0[sentence[j]]  # (D,) view
                        for d in range(size):
                            target[d] += work[d]
    _merge_rows(syn1, hot_first, hot_hs, start_hs)
    _merge_rows(syn1neg, 0, hot_ns, start_ns)
    return kept_total
