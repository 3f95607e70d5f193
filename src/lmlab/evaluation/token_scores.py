"""Per-token log-probabilities of a causal LM: the terms whose mean is the perplexity of
:mod:`lmlab.evaluation.perplexity` (token-level, exp(-1/N Σ_t log P(x_t | context))).

The same windows as the held-out measure (:func:`lmlab.data.batching.eval_windows` for
transformers, one carried-state stream for recurrent encoders), so
``exp(-mean(token_log_probs(...)))`` equals ``evaluate_perplexity`` on the same ids.
The first id is context only; every later id is scored once.
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.data.batching import IGNORE, eval_stream, eval_windows


@torch.no_grad()
def token_log_probs(model, ids: list[int], seq_len: int, stride: int | None = None) -> list[float]:
    """ln P(ids[t] | ids[:t]) for t = 1 .. len(ids) - 1 (natural log), under the exact
    softmax of ``model.lm_head``; ``seq_len``: the run's training window."""
    model.eval()
    stream = np.asarray(ids, dtype=np.int64)
    batches = eval_stream(stream, seq_len) if model.recurrent else \
        eval_windows(stream, seq_len, stride)
    memory, scores = None, []
    for batch in batches:
        output = model(batch["input_ids"], memory=None if batch.get("reset_memory") else memory)
        if model.recurrent:  # carried to the next window, as the held-out stream does
            memory = output.memory
        log_probs = torch.log_softmax(model.lm_head(output.hidden).float(), dim=-1)  # (b, T, V)
        labels = batch["labels"]  # (b, T), IGNORE where the window is context only
        picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (b, T)
        scores.extend(picked[labels != IGNORE].tolist())  # row-major: the stream's order
    return scores
