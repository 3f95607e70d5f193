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
                add_k: float = 0.1, chunk_tokens: int = 1 << 20) -> NgramModel:
    """Estimate an order-``order`` model of tokenized ``sentences``; ``info`` records how."""
    order = check_order(order)
    thresholds = check_prune(prune, order)  # fail before reading the corpus
    started = time.perf_counter()
    counted = count_ngrams(sentences, order, chunk_tokens=chunk_tokens)
    if vocab_limit is not None:
        counted = limit_vocabulary(counted, vocab_limit)
    counted_at = time.perf_counter()
    tables = build_tables(counted)
    est = estimate(tables, len(counted.vocab), smoothing, prune=thresholds,
                   discount_fallback=discount_fallback, add_k=add_k)
    info = {
        "order": order, "smoothing": smoothing, "prune": thresholds,
        "vocab_limit": vocab_limit, "vocab_size": len(counted.vocab),
        "tokens": counted.tokens, "sentences": counted.sentences,
        "discounts": est.discounts, "add_k": add_k if smoothing == "addk" else None,
        "count_seconds": counted_at - started,
        "estimate_seconds": time.perf_counter() - counted_at,
        "peak_memory_mb": peak_memory_mb(),
    }
    return NgramModel.from_estimate(counted.vocab, tables, est, info)
