"""Smoothed probabilities and backoff weights from count tables.

``mkn``  interpolated modified Kneser-Ney (Chen & Goodman 1998, eq. 17 and 26), exactly as
         KenLM ``lmplz`` computes it (Heafield et al. 2013): discounts D1, D2, D3+ per
         order from the count-of-counts of *adjusted* counts,
         ``Y = n1 / (n1 + 2 n2)``, ``D_j = j - (j + 1) Y n_{j+1} / n_j``;
         ``p(w|h) = (a(hw) - D(a)) / Σ a(h•) + γ(h) p(w|h')`` with
         ``γ(h) = (D1 N1(h•) + D2 N2(h•) + D3 N3+(h•)) / Σ a(h•)``; unigrams interpolate
         with the uniform distribution over the vocabulary without ``<s>`` (so ``<unk>``
         gets ``γ(ε) / (|V| - 1)``); ``p(<s>) = 1`` (never scored).
``kn``   interpolated Kneser-Ney with one discount per order ``D = n1 / (n1 + 2 n2)``
         (Kneser & Ney 1995; Chen & Goodman's "interpolated KN").
``wb``   interpolated Witten-Bell on raw counts (Witten & Bell 1991):
         ``γ(h) = N1+(h•) / (c(h) + N1+(h•))``.
``addk`` add-k estimates ``(c(hw) + k) / (c(h) + k (|V| - 1))`` for seen n-grams, the
         remaining mass backed off Katz-style (Katz 1987) to the lower order with
         ``α(h) = (1 - Σ p(w|h)) / (1 - Σ p(w|h'))`` over the seen words.

Pruning (lmplz ``--prune``): an n-gram of order k >= 2 whose raw count is <= the order's
threshold is dropped and its probability mass goes to its context's backoff (lmplz adds
the adjusted counts of pruned n-grams to γ's numerator), so every context still sums to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmlab.errors import ConfigError, DataError
from lmlab.ngram.tables import OrderTable
from lmlab.ngram.vocab import BOS

SMOOTHINGS = ("mkn", "kn", "wb", "addk")
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback defaults


@dataclass
class Estimate:
    log_prob: list[np.ndarray]  # per order (M_k,) log10 p(w | h)
    log_backoff: list[np.ndarray]  # per order (M_k,) log10 backoff; zeros at the top order
    kept: list[np.ndarray]  # per order (M_k,) bool: survives pruning
    discounts: list[list[float]] | None  # per order [D1, D2, D3+] (KN methods)


def check_prune(prune, order: int) -> list[int]:
    """lmplz semantics: one threshold per order, the last repeats; non-decreasing; unigrams 0."""
    if prune is None or len(prune) == 0:
        return [0] * order
    values = list(prune)
    if any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0 for v in values):
        raise ConfigError(f"prune thresholds must be integers >= 0; got {values}")
    if len(values) > order:
        raise ConfigError(f"{len(values)} prune thresholds given for order {order}; "
                          f"give at most one per order (e.g. --prune 0 0 1)")
    values += [values[-1]] * (order - len(values))
    if values[0] != 0:
        raise ConfigError("unigram pruning is not supported (as in lmplz): the first prune "
                          f"threshold must be 0; got {values}")
    if any(b < a for a, b in zip(values, values[1:])):
        raise ConfigError(f"prune thresholds must be non-decreasing; got {values}")
    return [int(v) for v in values]


def count_of_counts(adjusted: np.ndarray) -> np.ndarray:
    """n[j] = number of n-grams with adjusted count j, j = 0..4."""
    return np.bincount(np.minimum(adjusted, 5), minlength=6)[:5]


def mkn_discounts(adjusted: np.ndarray, order: int, fallback: bool) -> list[float]:
    """Chen & Goodman eq. 26; lmplz's range checks; lmplz's fallback when they fail."""
    n = count_of_counts(adjusted).astype(np.float64)
    problem = None
    if (n[1:5] == 0).any():
        j = int(np.flatnonzero(n[1:5] == 0)[0]) + 1
        problem = f"no {order}-grams have adjusted count {j}"
    else:
        y = n[1] / (n[1] + 2.0 * n[2])
        discounts = [j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3)]
        bad = [j for j, d in zip((1, 2, 3), discounts) if not 0.0 <= d <= j]
        if not bad:
            return discounts
        problem = f"{order}-gram discount D{bad[0]} = {discounts[bad[0] - 1]:.4f} is out of range"
    if fallback:
        return list(FALLBACK_DISCOUNTS)
    raise DataError(f"cannot estimate Kneser-Ney discounts: {problem} (is this small or "
                    f"artificial data?); pass discount_fallback=True (CLI: --discount-fallback) "
                    f"to use D = {FALLBACK_DISCOUNTS} as lmplz --discount_fallback does")


def kn_discount(adjusted: np.ndarray, order: int, fallback: bool) -> list[float]:
    n = count_of_counts(adjusted)
    if n[1] == 0 or n[2] == 0:
        if fallback:
            return [0.5] * 3
        raise DataError(f"cannot estimate the Kneser-Ney discount: no {order}-grams seen "
                        f"{'once' if n[1] == 0 else 'twice'}; pass discount_fallback=True")
    d = n[1] / (n[1] + 2.0 * n[2])
    return [float(d)] * 3


def _interpolated(tables, counts, discount_of, gamma_extra_of, kept, vocab_size):
    """p_k = u + γ[context] p_{k-1}[suffix] for all orders; returns (probs, gammas)."""
    probs, backoffs = [], []
    for k, table in enumerate(tables, start=1):
        count = counts[k - 1].astype(np.float64)
        discount = discount_of(k, counts[k - 1])  # (M,) amount removed from each count
        context = table.context if k > 1 else np.zeros(len(table), np.int64)
        contexts = len(tables[k - 2]) if k > 1 else 1
        extra = gamma_extra_of(k, counts[k - 1])  # (M,) WB: one type per entry; KN: 0
        denominator = np.bincount(context, weights=count + extra, minlength=contexts)
        freed = np.where(kept[k - 1], discount + extra, count + extra)  # pruned: all mass
        gamma = np.bincount(context, weights=freed, minlength=contexts)
        safe = np.where(denominator > 0, denominator, 1.0)
        gamma = gamma / safe
        uninterpolated = (count - discount) / safe[context]
        if k == 1:
            prob = uninterpolated + gamma[0] / (vocab_size - 1)  # uniform without <s>
            prob[BOS] = 1.0
        else:
            prob = uninterpolated + gamma[context] * probs[-1][table.parent]
            backoffs[-1] = np.where(denominator > 0, np.log10(np.where(gamma > 0, gamma, 1.0)), 0.0)
        probs.append(prob)
        backoffs.append(np.zeros(len(table)))
    return [np.log10(p) for p in probs], backoffs


def _addk(tables, kept, vocab_size, add_k):
    probs, backoffs = [], []
    for k, table in enumerate(tables, start=1):
        count = table.raw.astype(np.float64)
        if k == 1:
            prob = (count + add_k) / (count.sum() + add_k * (vocab_size - 1))
            prob[BOS] = 1.0
        else:
            contexts = len(tables[k - 2])
            totals = np.bincount(table.context, weights=count, minlength=contexts)
            prob = (count + add_k) / (totals[table.context] + add_k * (vocab_size - 1))
            seen = np.where(kept[k - 1], 1.0, 0.0)
            mass = np.bincount(table.context, weights=prob * seen, minlength=contexts)
            lower = np.bincount(table.context, weights=probs[-1][table.parent] * seen,
                                minlength=contexts)
            alpha = (1.0 - mass) / np.maximum(1.0 - lower, 1e-12)
            backoffs[-1] = np.where(totals > 0, np.log10(np.maximum(alpha, 1e-300)), 0.0)
        probs.append(prob)
        backoffs.append(np.zeros(len(table)))
    return [np.log10(p) for p in probs], backoffs


def estimate(tables: list[OrderTable], vocab_size: int, smoothing: str = "mkn", *,
             prune=None, discount_fallback: bool = False, add_k: float = 0.1) -> Estimate:
    """Probabilities and backoffs of every n-gram in ``tables`` under ``smoothing``."""
    if smoothing not in SMOOTHINGS:
        raise ConfigError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")
    order = len(tables)
    thresholds = check_prune(prune, order)
    kept = [np.ones(len(t), bool) if thr == 0 else t.raw > thr for t, thr in zip(tables, thresholds)]
    discounts = None
    if smoothing in ("mkn", "kn"):
        find = mkn_discounts if smoothing == "mkn" else kn_discount
        discounts = [find(t.adjusted, t.order, discount_fallback) for t in tables]
        table_of_d = [np.array([0.0] + d) for d in discounts]
        log_prob, log_backoff = _interpolated(
            tables, [t.adjusted for t in tables],
            lambda k, a: table_of_d[k - 1][np.minimum(a, 3)],
            lambda k, a: np.zeros(a.shape[0]), kept, vocab_size)
    elif smoothing == "wb":
        log_prob, log_backoff = _interpolated(
            tables, [t.raw for t in tables], lambda k, c: np.zeros(c.shape[0]),
            lambda k, c: (c > 0).astype(np.float64), kept, vocab_size)
    else:
        if not add_k > 0:
            raise ConfigError(f"add_k must be > 0; got {add_k}")
        log_prob, log_backoff = _addk(tables, kept, vocab_size, add_k)
    return Estimate(log_prob, log_backoff, kept, discounts)
