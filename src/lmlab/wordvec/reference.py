"""Reference word2vec job in plain Python/NumPy: the simple twin of :mod:`.kernels`.

Same algorithm, same LCG draws in the same order (see kernels.py for the definitions and
citations), written for reading rather than speed. Tests train a tiny corpus with both and
compare the vectors; the trainer can also run on it (``backend="numpy"``) where numba is
not installed — slowly (~10^4 words/s).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
MAX_EXP = 6.0
EXP_TABLE_SIZE = 1000
# Index scale of the table lookup. word2vec.c writes EXP_TABLE_SIZE / MAX_EXP / 2 with integer
# macros, i.e. C integer division: 1000 / 6 / 2 = 83 (not 83.33); gensim's Cython emits the
# same ``(0x3E8 / 6) / 2``. So both read sigmoid at (x + 6)·83/83.33 − 6 = 0.996·x − 0.024.
SIGMOID_INDEX_SCALE = EXP_TABLE_SIZE // int(MAX_EXP) // 2


def sigmoid_table() -> np.ndarray:
    """sigmoid at EXP_TABLE_SIZE points of [-MAX_EXP, MAX_EXP): word2vec.c's EXP_TABLE. (1000,) f32."""
    x = (np.arange(EXP_TABLE_SIZE) / EXP_TABLE_SIZE * 2 - 1) * MAX_EXP
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


_SIGMOID = sigmoid_table()


class Lcg:
    """word2vec.c's generator: ``state = state·25214903917 + 11 (mod 2^64)``."""

    def __init__(self, seed: int) -> None:
        self.state = int(seed) & _MASK64

    def peek48(self) -> int:
        return self.state >> 16

    def advance(self) -> None:
        self.state = (self.state * 25214903917 + 11) & _MASK64

    def draw32(self) -> int:
        value = (self.state >> 16) & 0xFFFFFFFF
        self.advance()
        return value


def _sigmoid(x: float) -> float:
    """Table lookup, as word2vec.c and gensim do (x already inside (-MAX_EXP, MAX_EXP))."""
    return float(_SIGMOID[int((x + MAX_EXP) * SIGMOID_INDEX_SCALE)])


def _hs(l1, syn1, tree_codes, tree_points, length, word, alpha, work):
    for b in range(length):
        row = tree_points[word, b]
        dot = float(np.dot(l1, syn1[row]))
        if dot <= -MAX_EXP or dot >= MAX_EXP:
            continue
        g = np.float32((1.0 - tree_codes[word, b] - _sigmoid(dot)) * alpha)
        work += g * syn1[row]
        syn1[row] += g * l1


def _ns(l1, syn1neg, cum_table, negative, word, alpha, work, rng: Lcg):
    for k in range(negative + 1):
        if k == 0:
            target, label = word, 1.0
        else:
            target = int(np.searchsorted(cum_table, rng.peek48() % int(cum_table[-1])))
            rng.advance()
            if target == word:
                continue
            label = 0.0
        dot = float(np.dot(l1, syn1neg[target]))
        if dot <= -MAX_EXP or dot >= MAX_EXP:
            continue
        g = np.float32((label - _sigmoid(dot)) * alpha)
        work += g * syn1neg[target]
        syn1neg[target] += g * l1


def train_job(syn0, syn1, syn1neg, ids, offsets, first, last, keep_int, do_sample,
              cum_table, guide, codes, points, code_lengths, skipgram, cbow_mean, hs, negative,
              window, alpha, seed) -> int:
    """Same signature and effect as :func:`lmlab.wordvec.kernels.train_job`.

    ``guide`` (the kernel's shortcut into ``cum_table``) is unused: plain bisect here.
    """
    rng = Lcg(seed)
    kept_total = 0
    for s in range(first, last):
        sentence = []
        for word in ids[offsets[s]:offsets[s + 1]]:
            if do_sample and keep_int[word] < rng.draw32():
                continue
            sentence.append(int(word))
        kept_total += len(sentence)
        reduced = [rng.draw32() % window for _ in sentence]
        for i, word in enumerate(sentence):
            span = window - reduced[i]
            context = [sentence[j] for j in range(max(0, i - span), min(len(sentence), i + span + 1))
                       if j != i]
            if skipgram:
                for c in context:
                    l1 = syn0[c].copy()  # the input vector changes only after both losses
                    work = np.zeros_like(l1)
                    if hs:
                        _hs(l1, syn1, codes, points, code_lengths[word], word, alpha, work)
                    if negative > 0:
                        _ns(l1, syn1neg, cum_table, negative, word, alpha, work, rng)
                    syn0[c] += work
            else:
                if not context:
                    continue
                neu1 = syn0[context].sum(axis=0)  # (D,)
                if cbow_mean:
                    neu1 = neu1 * np.float32(1.0 / len(context))
                work = np.zeros_like(neu1)
                if hs:
                    _hs(neu1, syn1, codes, points, code_lengths[word], word, alpha, work)
                if negative > 0:
                    _ns(neu1, syn1neg, cum_table, negative, word, alpha, work, rng)
                if not cbow_mean:
                    work *= np.float32(1.0 / len(context))
                for c in context:  # repeated context words get the update twice, as in C
                    syn0[c] += work
    return kept_total
