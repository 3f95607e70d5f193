"""Sentence scores, per-word scores and perplexity with KenLM's conventions.

Per sentence: ``<s>`` is the starting context and is not scored; every word and ``</s>``
is. Perplexity (KenLM ``query``): ``10 ** (-Σ log10 p / N)`` where N counts the words and
one ``</s>`` per sentence; "excluding OOVs" drops the out-of-vocabulary words from both the
sum and N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from lmlab.ngram.model import NgramModel, pad_sentences
from lmlab.ngram.vocab import TEXT_UNK_WORD, UNK_TOKEN

BATCH_SENTENCES = 20000


@dataclass
class SentenceScore:
    words: list[str]  # the scored tokens, "</s>" last
    log10_probs: np.ndarray  # (len(words),)
    orders: np.ndarray  # (len(words),) longest n-gram matched
    oov: np.ndarray  # (len(words),) bool

    @property
    def total(self) -> float:
        return float(self.log10_probs.sum())


def score_batch(model: NgramModel, sentences: list[list[str]]) -> list[SentenceScore]:
    """Score tokenized sentences (one vectorized pass)."""
    if not sentences:
        return []
    ids, distance, oov = pad_sentences(model.vocab, sentences)
    scores, orders = model.score_ids(ids, distance)
    results, start = [], 0
    for words in sentences:
        end = start + len(words) + 2
        span = slice(start + 1, end)  # skip <s>
        results.append(SentenceScore(list(words) + ["</s>"], scores[span], orders[span], oov[span]))
        start = end
    return results


def iter_scores(model: NgramModel, sentences: Iterable[list[str]],
                batch: int = BATCH_SENTENCES) -> Iterator[SentenceScore]:
    """Score a stream of sentences in batches of ``batch``."""
    pending: list[list[str]] = []
    for words in sentences:
        pending.append(words)
        if len(pending) >= batch:
            yield from score_batch(model, pending)
            pending = []
    yield from score_batch(model, pending)


def sentence_log10(model: NgramModel, sentence: str) -> float:
    """log10 p(sentence) as ``kenlm.Model.score(sentence, bos=True, eos=True)``."""
    tokens = [TEXT_UNK_WORD if t == UNK_TOKEN else t for t in sentence.split()]
    return score_batch(model, [tokens])[0].total


def perplexity(model: NgramModel, sentences: Iterable[list[str]]) -> dict:
    """Perplexity incl./excl. OOVs over ``sentences`` (KenLM conventions)."""
    total = total_oov = 0.0
    tokens = oov = count = 0
    for result in iter_scores(model, sentences):
        total += result.total
        total_oov += float(result.log10_probs[result.oov].sum())
        tokens += len(result.words)
        oov += int(result.oov.sum())
        count += 1
    if tokens == 0:
        return {"perplexity": float("nan"), "perplexity_excluding_oov": float("nan"),
                "tokens": 0, "oov": 0, "sentences": 0, "log10_prob": 0.0}
    kept = tokens - oov
    return {
        "perplexity": float(10.0 ** (-total / tokens)),
        "perplexity_excluding_oov": float(10.0 ** (-(total - total_oov) / kept)) if kept else float("nan"),
        "tokens": tokens, "oov": oov, "sentences": count, "log10_prob": total,
    }
