"""Language sampling by corpus size (XLM, Lample & Conneau 2019, §3.1; XLM-R, Conneau et
al. 2020, §3.1).

Sentences are drawn from language i with probability
``q_i = p_i^α / Σ_j p_j^α``, ``p_i = n_i / Σ_k n_k``: α < 1 raises low-resource
languages above their share (α = 0.5 in XLM, 0.3 in XLM-R; α = 1 is proportional).
"""

from __future__ import annotations

import numpy as np

from lmlab.errors import DataError


def language_probabilities(sizes: list[int], alpha: float) -> np.ndarray:
    """(L,) q_i of corpora of ``sizes`` n_i (sentences or lines) under exponent ``alpha``."""
    counts = np.asarray(sizes, dtype=np.float64)  # (L,)
    if counts.ndim != 1 or counts.size == 0 or (counts <= 0).any():
        raise DataError(f"language sampling needs one positive size per corpus, got {sizes}")
    if not 0.0 < alpha <= 1.0:
        raise DataError(f"language sampling exponent alpha must be in (0, 1], got {alpha}")
    shares = counts / counts.sum()  # p_i
    weights = shares ** alpha
    return weights / weights.sum()  # q_i


def resampled_counts(sizes: list[int], alpha: float) -> list[int]:
    """How many sentences of each corpus a resampled corpus of the same total size
    Σ n_i holds when drawn with :func:`language_probabilities`: round(q_i · Σ n)."""
    q = language_probabilities(sizes, alpha)
    return [max(1, int(round(value * sum(sizes)))) for value in q]


def resample_sources(sizes: list[int], alpha: float, seed: int) -> list[tuple[int, int]]:
    """(corpus, line) of every line of the mixed corpus, in mixed order: each corpus drawn
    to its :func:`resampled_counts` size (whole passes over a shuffled copy, then a part:
    an up-sampled corpus repeats lines, a down-sampled one drops some), the draws of all
    corpora shuffled together; seeded. The corpus index is the line's language."""
    rng = np.random.default_rng(seed)
    mixed: list[tuple[int, int]] = []
    for corpus, (size, count) in enumerate(zip(sizes, resampled_counts(sizes, alpha))):
        passes, rest = divmod(count, size)
        for _ in range(passes):
            mixed.extend((corpus, int(i)) for i in rng.permutation(size))
        mixed.extend((corpus, int(i)) for i in rng.permutation(size)[:rest])
    return [mixed[i] for i in rng.permutation(len(mixed))]


def resample_lines(corpora: list[list[str]], alpha: float, seed: int) -> list[str]:
    """The lines of :func:`resample_sources` over ``corpora``."""
    return [corpora[c][i] for c, i in resample_sources([len(c) for c in corpora], alpha, seed)]
