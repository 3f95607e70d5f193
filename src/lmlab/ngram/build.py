"""Build a model end to end: count (streamed) -> tables -> estimate -> :class:`NgramModel`."""

from __future__ import annotations

import time
from typing import Iterable

from lmlab.ngram.counting import check_order, count_ngrams, limit_vocabulary, peak_memory_mb
from lmlab.ngram.estimate import check_prune, estimate
from lmlab.ngram.model import NgramModel
from lmlab.ngram.tables import build_tables


def build_model(sentences: Iterable[list[str]], order: int, *, smoothing: str = "mkn",
                prune=None, vocab_limit: int | None = None, discount_fallback: bool = False,
                add_k: float = 0.1, chunk_tokens: int = 1 << 20, memory_mb: float | None = None,
                spill_dir=None) -> NgramModel:
    """Estimate an order-``order`` model of tokenized ``sentences``; ``info`` records how.

    ``memory_mb`` bounds *counting* (sorted runs spill to ``spill_dir``, see
    :func:`lmlab.ngram.counting.count_ngrams`); the tables and estimates of all orders
    are then built in memory from the merged, memory-mapped count table.
    """
    order = check_order(order)
    thresholds = check_prune(prune, order)  # fail before reading the corpus
    started = time.perf_counter()
    counted = count_ngrams(sentences, order, chunk_tokens=chunk_tokens, memory_mb=memory_mb,
                           spill_dir=spill_dir)
    if vocab_limit is not None:
        counted = limit_vocabulary(counted, vocab_limit)
    counted_at = time.perf_counter()
    count_peak = peak_memory_mb()
    tables = build_tables(counted)
    est = estimate(tables, len(counted.vocab), smoothing, prune=thresholds,
                   discount_fallback=discount_fallback, add_k=add_k)
    info = {
        "order": order, "smoothing": smoothing, "prune": thresholds,
        "vocab_limit": vocab_limit, "vocab_size": len(counted.vocab), "memory_mb": memory_mb,
        "tokens": counted.tokens, "sentences": counted.sentences,
        "discounts": est.discounts, "add_k": add_k if smoothing == "addk" else None,
        "count_seconds": counted_at - started,
        "estimate_seconds": time.perf_counter() - counted_at,
        "count_peak_memory_mb": count_peak, "peak_memory_mb": peak_memory_mb(),
    }
    return NgramModel.from_estimate(counted.vocab, tables, est, info)
