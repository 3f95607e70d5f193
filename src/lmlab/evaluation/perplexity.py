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
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from lmlab.data.batching import eval_blocks
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective

EVAL_MASK_SEED = 1234


def _summary(total_nll: float, tokens: int) -> dict:
    mean = total_nll / max(1, tokens)
    return {"perplexity": math.exp(mean), "loss": mean, "tokens": tokens}


@torch.no_grad()
def recurrent_perplexity(model, ids: np.ndarray, seq_len: int, max_tokens: int = 0) -> dict:
    stream = torch.from_numpy(np.asarray(ids[: max_tokens or len(ids)], dtype=np.int64))
    memory, total, count = None, 0.0, 0
    for start in range(0, len(stream) - 1, seq_len):
        chunk = stream[start: start + seq_len + 1][None]  # (1, T+1)
        output = model(chunk[:, :-1], memory=memory)
        memory = output.memory
        logits = model.lm_head(output.hidden)  # (1, T, V)
        total += F.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
        count += chunk.shape[1] - 1
    return _summary(total, count)


@torch.no_grad()
def windowed_perplexity(model, ids: np.ndarray, seq_len: int, stride: int | None = None,
                        batch_size: int = 16, max_tokens: int = 0) -> dict:
    stride = stride or max(1, seq_len // 2)
    if not 0 < stride <= seq_len:
        raise ValueError(f"stride must be in 1..seq_len={seq_len}, got {stride}")
    stream = torch.from_numpy(np.asarray(ids[: max_tokens or len(ids)], dtype=np.int64))
    last = len(stream) - 1  # number of predictable tokens
    # Window w starts at w*stride and predicts labels [start+1, start+T]; it scores the
    # labels not already scored by window w-1, i.e. all for w=0, the last `stride` after.
    starts = list(range(0, max(1, last - seq_len + stride), stride))
    total, count = 0.0, 0
    full = [s for s in starts if s + seq_len <= last]
    tail = [s for s in starts if s + seq_len > last]
    for group in range(0, len(full), batch_size):
        chosen = full[group: group + batch_size]
        index = torch.tensor(chosen)[:, None] + torch.arange(seq_len + 1)  # (b, T+1)
        windows = stream[index]
        logits = model.logits(windows[:, :-1])[0]  # (b, T, V)
        nll = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")  # (b, T)
        for row, start in enumerate(chosen):
            keep = seq_len if start == 0 else stride
            total += nll[row, -keep:].sum().item()
            count += keep
    for start in tail[:1]:  # the last, shorter window scores what is left
        scored_until = (full[-1] + seq_len) if full else 0
        window = stream[start: last + 1][None]  # (1, L+1)
        logits = model.logits(window[:, :-1])[0]
        nll = F.cross_entropy(logits[0], window[0, 1:], reduction="none")
        keep = last - scored_until
        if keep > 0:
            total += nll[-keep:].sum().item()
            count += keep
    return _summary(total, count)


@torch.no_grad()
def masked_perplexity(model, ids: np.ndarray, seq_len: int, tokenizer,
                      mlm_config: MaskedLMConfig | None = None, batch_size: int = 16,
                      max_blocks: int = 0, marks: np.ndarray | None = None) -> dict:
    # The run's corruption settings, but static masks under a fixed seed.
    objective = MaskedLMObjective(dataclasses.replace(mlm_config or MaskedLMConfig(),
                                                      masking="static"), tokenizer)
    objective.seed = EVAL_MASK_SEED
    total, count = 0.0, 0
    for batch in eval_blocks(ids, seq_len, tokenizer.cls_id, tokenizer.sep_id, batch_size,
                             max_blocks, marks):
        corrupted, labels = objective.corrupt(batch)
        hidden = model(corrupted).hidden
        chosen_positions = labels != -100
        logits = model.lm_head(hidden[chosen_positions])
        total += F.cross_entropy(logits, labels[chosen_positions], reduction="sum").item()
        count += int(chosen_positions.sum())
    return _summary(total, count)


def evaluate_perplexity(model, config, tokenizer, ids: np.ndarray, stride: int | None = None,
                        max_tokens: int = 0, marks: np.ndarray | None = None) -> dict:
    """Dispatch on the run's first objective: causal or masked perplexity. ``marks``: the
    split's text-derived masking units (jieba words, ERNIE spans), when the run masks by
    them; without them masked perplexity masks by vocabulary words."""
    model.eval()
    if any(o.name == "rtd" for o in config.objectives):
        return electra_evaluation(model, config, tokenizer, ids, max_tokens)
    masked = [o for o in config.objectives if o.name in ("mlm", "unilm")]
    objective = masked[0] if masked else config.objectives[0]
    if objective.name == "unilm":
        # UniLM's bidirectional LM is BERT's cloze (Dong et al. 2019, §2.2): score it with
        # full attention, the run's mask rate and BERT's 80/10/10 corruption.
        objective = MaskedLMConfig(mask_rate=objective.mask_rate)
    seq_len = config.data.seq_len
    if objective.name == "mlm":
        max_blocks = max_tokens // (seq_len - 2) if max_tokens else 0
        result = masked_perplexity(model, ids, seq_len, tokenizer, objective,
                                   config.data.eval_batch_size, max_blocks, marks)
        return {**result, "kind": "masked"}
    if objective.name != "clm":
        raise ValueError(f"no perplexity is defined for a run whose first objective is "
                         f"{objective.name!r} (expected clm, mlm, unilm or rtd)")
    if model.recurrent:
        return {**recurrent_perplexity(model, ids, seq_len, max_tokens), "kind": "causal"}
    return {**windowed_perplexity(model, ids, seq_len, stride, config.data.eval_batch_size,
                                  max_tokens), "kind": "causal"}


@torch.no_grad()
def electra_evaluation(model, config, tokenizer, ids: np.ndarray, max_tokens: int = 0) -> dict:
    """ELECTRA has no LM over its own outputs: report the generator's masked-token
    perplexity and the discriminator's replaced-token accuracy on fixed-seed masks."""
    from lmlab.objectives.electra import ElectraObjective

    electra_config = next(o for o in config.objectives if o.name == "rtd")
    objective = ElectraObjective(electra_config, tokenizer)
    objective.seed = EVAL_MASK_SEED
    block = config.data.seq_len - 2
    max_blocks = max(1, max_tokens // block) if max_tokens else 0
    generator_nll, accuracy, batches, tokens = 0.0, 0.0, 0, 0
    for batch in eval_blocks(ids, config.data.seq_len, tokenizer.cls_id, tokenizer.sep_id,
                             config.data.eval_batch_size, max_blocks):
        output = objective(model, batch)
        generator_nll += output.metrics["generator_loss"]
        accuracy += output.metrics["discriminator_accuracy"]
        batches += 1
        tokens += batch["input_ids"].shape[0] * block
    mean = generator_nll / max(1, batches)
    return {"perplexity": math.exp(mean), "loss": mean, "tokens": tokens,
            "discriminator_accuracy": accuracy / max(1, batches), "kind": "generator-masked"}
