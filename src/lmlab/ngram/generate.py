"""Sampling text from a backoff n-gram model (temperature, top-k, nucleus/top-p).

Each step scores every vocabulary word after the last N-1 tokens with the ARPA backoff
rule (one vectorized pass), never proposes ``<s>`` or ``<unk>``, and stops at ``</s>``.
"""

from __future__ import annotations

import numpy as np

from lmlab.errors import ConfigError
from lmlab.ngram.model import NgramModel
from lmlab.ngram.vocab import BOS, EOS, UNK, TEXT_UNK_WORD, UNK_TOKEN


def next_word_log10(model: NgramModel, context: list[int]) -> np.ndarray:
    """(V,) log10 p(w | context) for every word w (context: ids, may start with ``<s>``)."""
    size = len(model.vocab)
    window = context[-(model.order - 1):] if model.order > 1 else []
    length = len(window) + 1
    flat = np.empty((size, length), dtype=np.int64)  # (V, L): window then candidate
    flat[:, :-1] = window
    flat[:, -1] = np.arange(size)
    # Distances restart at 0 on every row, so no n-gram reaches into the previous row.
    distance = np.tile(np.arange(length), size)  # (V * L,)
    scores, _ = model.score_ids(flat.ravel(), distance)
    return scores.reshape(size, length)[:, -1] if length > 1 else model.log_prob[0].copy()


def sample(model: NgramModel, prompt: str, max_new_tokens: int, *, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
    """The prompt followed by up to ``max_new_tokens`` sampled words; ``temperature`` 0 is
    greedy (the most likely word each step, as ``lmlab generate --temperature 0``)."""
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0 (0 = greedy); got {temperature}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1]; got {top_p}")
    if top_k < 0 or max_new_tokens < 0:
        raise ConfigError("top_k and max_new_tokens must be >= 0")
    rng = np.random.default_rng(seed)
    words = [TEXT_UNK_WORD if t == UNK_TOKEN else t for t in prompt.split()]
    context = [BOS] + model.vocab.lookup(words)
    out: list[str] = []
    for _ in range(max_new_tokens):
        log10 = next_word_log10(model, context)
        logits = log10 * np.log(10.0) / (temperature or 1.0)
        logits[[BOS, UNK]] = -np.inf
        word = (int(np.argmax(logits)) if temperature == 0
                else _draw(logits, top_k, top_p, rng))
        if word == EOS:
            break
        out.append(model.vocab.words[word])
        context.append(word)
    return " ".join([prompt.strip()] + out).strip()


def _draw(logits: np.ndarray, top_k: int, top_p: float, rng) -> int:
    """One word sampled from ``logits`` (V,) kept to the top k and the top-p nucleus."""
    if top_k:
        cutoff = np.partition(logits, -min(top_k, logits.size))[-min(top_k, logits.size)]
        logits = np.where(logits < cutoff, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order])
        probs[order[np.searchsorted(cumulative, top_p) + 1:]] = 0.0
        probs /= probs.sum()
    return int(rng.choice(probs.size, p=probs))
