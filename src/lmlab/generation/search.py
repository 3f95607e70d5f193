"""Choosing tokens: greedy, sampling and beam search over any :class:`Stepper`.

Both loops are batched with per-sequence stopping: a sequence that emits a stop token (or
reaches ``max_new_tokens``) leaves the batch through ``stepper.select``, so the remaining
steps cost only what is still running. They choose what HF ``generate`` chooses for the
same scores and settings (``tests/parity/test_generation_parity.py``).

Beam search (as in HF and fairseq): each step extends every running beam by every token,
scores ``sum log p``, and keeps the best ``2K`` candidates (K = ``num_beams``); candidates
among the top K that end with a stop token join the finished list with score
``sum log p / new_tokens ** length_penalty``; the best K unfinished continue. A batch item
is done when no running beam can beat its K finished ones (``early_stopping``, see
:class:`GenerationOptions`), or at ``max_new_tokens``, when every candidate finishes.
"""

from __future__ import annotations

import torch

from lmlab.generation.options import GenerationOptions
from lmlab.generation.processors import process
from lmlab.generation.steppers import Stepper

NEG = -1.0e9  # HF's "impossible" score: large but finite, so sums stay ordered


def greedy_or_sample(stepper: Stepper, prompts: list[list[int]], prefixes: list[list[int]],
                     options: GenerationOptions, stop_ids: tuple[int, ...]) -> list[list[int]]:
    """The new tokens of each prompt (a stop token, when reached, included). ``prefixes``:
    what each output continues, for n-gram blocking (the prompt of a causal LM, the
    decoder's start token of an encoder–decoder)."""
    generator = torch.Generator().manual_seed(options.seed)
    outputs: list[list[int]] = [[] for _ in prompts]
    running = list(range(len(prompts)))  # batch row -> prompt index
    logits = stepper.start(prompts)
    stops = torch.tensor(stop_ids, dtype=torch.long)
    for new_tokens in range(options.max_new_tokens):
        sequences = ([prefixes[index] + outputs[index] for index in running]
                     if options.no_repeat_ngram_size else [])  # only n-gram blocking reads them
        scores = process(logits, sequences, new_tokens, options, stop_ids).cpu()  # (B, V)
        if options.do_sample:
            tokens = torch.multinomial(scores.softmax(dim=-1), 1, generator=generator)[:, 0]
        else:
            tokens = scores.argmax(dim=-1)  # (B,)
        for row, index in enumerate(running):
            outputs[index].append(int(tokens[row]))
        alive = ~torch.isin(tokens, stops)  # (B,)
        if new_tokens + 1 == options.max_new_tokens or not alive.any():
            break
        if not alive.all():
            rows = alive.nonzero()[:, 0]
            stepper.select(rows)
            tokens = tokens[rows]
            running = [running[row] for row in rows.tolist()]
        logits = stepper.step(tokens.to(logits.device))
    return outputs


class _Finished:
    """Per batch item, the K best finished hypotheses (score-sorted, NEG = empty slot)."""

    def __init__(self, batch: int, beams: int, width: int, fill: int):
        self.scores = torch.full((batch, beams), NEG)  # (N, K)
        self.tokens = torch.full((batch, beams, width), fill, dtype=torch.long)  # (N, K, W)
        self.lengths = torch.zeros(batch, beams, dtype=torch.long)
        self.filled = torch.zeros(batch, beams, dtype=torch.bool)


def beam_search(stepper: Stepper, prompts: list[list[int]], prefixes: list[list[int]],
                options: GenerationOptions, stop_ids: tuple[int, ...]) -> list[list[int]]:
    """The new tokens of the best finished beam of each prompt (``prefixes`` as in
    :func:`greedy_or_sample`)."""
    batch, beams, width = len(prompts), options.num_beams, options.max_new_tokens
    keep = max(2, 1 + len(stop_ids)) * beams  # candidates kept per step (HF's beams_to_keep)
    stops = torch.tensor(stop_ids, dtype=torch.long)
    logits = stepper.start(prompts)  # (N, V): each prompt is read once, then copied K times
    copies = torch.arange(batch).repeat_interleave(beams)  # (N·K,)
    stepper.select(copies)
    logits = logits[copies.to(logits.device)]  # (N·K, V)
    running_scores = torch.zeros(batch, beams)  # (N, K): sum log p
    running_scores[:, 1:] = NEG  # only beam 0 extends at first: K copies of one prompt
    running_tokens = torch.zeros(batch, beams, width, dtype=torch.long)  # (N, K, W)
    finished = _Finished(batch, beams, width, fill=stop_ids[0] if stop_ids else 0)
    improvable = torch.ones(batch, dtype=torch.bool)  # HF's early-stop heuristic, per item
    active = torch.arange(batch)  # batch items still being searched (rows of the stepper)
    top_k_mask = torch.arange(keep) < beams  # (2K,): only the top K may finish
    for step in range(width):
        count = active.numel()
        sequences = ([prefixes[int(item)] + running_tokens[int(item), beam, :step].tolist()
                      for item in active for beam in range(beams)]
                     if options.no_repeat_ngram_size else [])
        log_probs = process(logits.log_softmax(dim=-1), sequences, step, options,
                            stop_ids).cpu()  # (A·K, V)
        vocab = log_probs.shape[-1]
        totals = (log_probs.view(count, beams, vocab)
                  + running_scores[active][:, :, None]).view(count, beams * vocab)
        top_scores, top_index = torch.topk(totals, keep)  # (A, 2K)
        source_beam, token = top_index // vocab, top_index % vocab
        candidates = torch.take_along_dim(running_tokens[active], source_beam[:, :, None], 1)
        candidates[:, :, step] = token  # (A, 2K, W)
        ends = torch.isin(token, stops) | (step + 1 == width)  # (A, 2K)
        # The best K that go on (finished candidates pushed out).
        go_on = top_scores + ends.float() * NEG
        next_index = torch.topk(go_on, beams).indices  # (A, K)
        running_scores[active] = torch.gather(go_on, 1, next_index)
        running_tokens[active] = torch.take_along_dim(candidates, next_index[:, :, None], 1)
        # Finished candidates among the top K join the item's finished list.
        scored = top_scores / ((step + 1) ** options.length_penalty)
        closed = finished.filled[active].all(dim=1) & (options.early_stopping is True)
        addable = ends & top_k_mask[None] & improvable[active][:, None] & ~closed[:, None]
        scored = torch.where(addable, scored, torch.full_like(scored, NEG))
        merged_scores = torch.cat([finished.scores[active], scored], dim=1)  # (A, 3K)
        order = torch.topk(merged_scores, beams).indices  # (A, K)
        finished.scores[active] = torch.gather(merged_scores, 1, order)
        finished.tokens[active] = torch.take_along_dim(
            torch.cat([finished.tokens[active], candidates], 1), order[:, :, None], 1)
        finished.lengths[active] = torch.gather(torch.cat(
            [finished.lengths[active], torch.full_like(scored, step + 1, dtype=torch.long)],
            1), 1, order)
        finished.filled[active] = torch.gather(
            torch.cat([finished.filled[active], addable], 1), 1, order)
        if step + 1 == width:
            break
        # Can a running beam still beat the worst finished one? (HF's heuristic)
        length = width if (options.early_stopping == "never"
                           and options.length_penalty > 0) else step + 1
        best_running = running_scores[active][:, 0] / (length ** options.length_penalty)
        full = finished.filled[active].all(dim=1)
        worst = finished.scores[active].min(dim=1).values
        improvable[active] &= best_running > torch.where(full, worst, torch.full_like(worst, NEG))
        done = ~improvable[active] | (full & (options.early_stopping is True))
        parents = torch.gather(source_beam, 1, next_index)  # (A, K): the beams they extend
        beam_rows = (torch.arange(count)[:, None] * beams + parents).view(-1)  # (A·K,)
        if done.any():
            kept = (~done).nonzero()[:, 0]
            if kept.numel() == 0:
                break
            beam_rows = beam_rows.view(count, beams)[kept].view(-1)
            active = active[kept]
        stepper.select(beam_rows)
        next_tokens = running_tokens[active, :, step].reshape(-1)  # (A·K,)
        logits = stepper.step(next_tokens.to(logits.device))
    best = finished.tokens[:, 0]  # (N, W)
    return [best[item, :int(finished.lengths[item, 0])].tolist() for item in range(batch)]
