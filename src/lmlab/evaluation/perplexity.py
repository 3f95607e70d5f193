"""Perplexity, computed one documented way (DESIGN §5).

Causal LMs — token-level perplexity exp(-1/N sum_t log P(x_t | context)) over the split's
token stream (lines joined, each ended by ``<eos>``, as in Mikolov's PTB setup); the first
token is context only, so N = tokens - 1.

* Transformers see windows of ``seq_len`` tokens with stride ``stride``: the first window
  scores all its tokens, each later one scores only its last ``stride`` tokens, so every
  token is scored once with at least ``seq_len - stride`` tokens of context (stride =
  seq_len gives non-overlapping windows; the default is seq_len // 2).
* Recurrent encoders read the stream once with batch size 1, carrying their state, so
  every token has the whole preceding split as context.

Masked LMs (UniLM too, by its bidirectional cloze) — masked-token perplexity: the split is
cut into ``[CLS] … [SEP]`` blocks of ``seq_len``, masked once with the MLM corruption under
a fixed seed (static masking), and exp of the mean cross-entropy over the masked positions
is reported. It is *not* comparable with causal perplexity; tables label it "MLM ppl".
ELECTRA reports its generator's masked-token perplexity and the discriminator's accuracy.

Each of these is the ``evaluate`` of the run's measuring objective
(:mod:`lmlab.objectives.held_out`); this module only chooses the settings.
"""

from __future__ import annotations

import numpy as np

from lmlab.objectives.base import EVALUATION_SEED, EvaluationSettings
from lmlab.objectives.held_out import evaluate_held_out
from lmlab.registry import build_objectives


def evaluate_perplexity(model, config, tokenizer, ids: np.ndarray, stride: int | None = None,
                        max_tokens: int = 0, marks: np.ndarray | None = None,
                        languages: np.ndarray | None = None) -> dict:
    """The run's held-out measure on ``ids``. ``marks``: the split's text-derived masking
    units (jieba words, ERNIE spans), when the run masks by them; without them masked
    perplexity masks by vocabulary words. ``languages``: the split's per-token language
    ids, when an XLM model reads a mix."""
    objectives = build_objectives(config.objectives, tokenizer, EVALUATION_SEED)
    settings = EvaluationSettings(seq_len=config.data.seq_len,
                                  batch_size=config.data.eval_batch_size, stride=stride,
                                  max_tokens=max_tokens, marks=marks, languages=languages)
    return evaluate_held_out(model, objectives, ids, settings)
