"""What is done to next-token scores before a token is chosen, in HF ``generate``'s order
(so the same settings pick the same tokens):

1. no-repeat n-gram blocking (Paulus et al. 2018 §2.5): a token that would complete an
   n-gram already in the sequence gets -inf;
2. ``min_new_tokens``: the stop tokens get -inf while too few tokens are new;
3. forced first / last token (HF BART's ``forced_bos_token_id`` / ``forced_eos_token_id``);
4. suppressed ids (padding and specials for lmlab runs);
5. sampling only: temperature, top-k (Fan et al. 2018), top-p / nucleus (Holtzman et al.
   2020: keep the smallest set of most likely tokens whose mass reaches p).

Greedy and sampling apply them to logits, beam search to log-probabilities (as HF does).
"""

from __future__ import annotations

import torch

from lmlab.generation.options import GenerationOptions


def banned_by_ngrams(sequences: list[list[int]], size: int) -> list[list[int]]:
    """For each sequence, the tokens that would repeat one of its ``size``-grams."""
    banned = []
    for tokens in sequences:
        if len(tokens) + 1 < size:
            banned.append([])
            continue
        seen: dict[tuple, list[int]] = {}
        for start in range(len(tokens) - size + 1):
            seen.setdefault(tuple(tokens[start:start + size - 1]), []).append(
                tokens[start + size - 1])
        banned.append(seen.get(tuple(tokens[len(tokens) - size + 1:]), []))
    return banned


def top_k_filter(scores: torch.Tensor, top_k: int) -> torch.Tensor:
    """scores: (B, V). Tokens below the k-th best get -inf."""
    top_k = min(top_k, scores.shape[-1])
    kth = torch.topk(scores, top_k).values[..., -1:]  # (B, 1)
    return scores.masked_fill(scores < kth, float("-inf"))


def top_p_filter(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """scores: (B, V). Drop a token when the mass of the tokens more likely than it already
    reaches p; the best token always stays. Summed from the least likely token up, as HF
    does, so the two agree on the boundary."""
    ascending, order = torch.sort(scores, descending=False)  # (B, V)
    mass_up_to = ascending.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    drop = mass_up_to <= 1 - top_p
    drop[..., -1:] = False
    return scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))


def process(scores: torch.Tensor, sequences: list[list[int]], new_tokens: int,
            options: GenerationOptions, stop_ids: tuple[int, ...]) -> torch.Tensor:
    """scores: (B, V) for the next token of each of ``sequences`` (the tokens so far,
    prompt or decoder start included; ``new_tokens`` of them are generated)."""
    scores = scores.clone()
    if options.no_repeat_ngram_size:
        for row, tokens in enumerate(banned_by_ngrams(sequences, options.no_repeat_ngram_size)):
            scores[row, tokens] = float("-inf")
    if new_tokens < options.min_new_tokens:
        scores[:, list(stop_ids)] = float("-inf")
    forced = (options.forced_bos_id if new_tokens == 0 else
              options.forced_eos_id if new_tokens == options.max_new_tokens - 1 else None)
    if forced is not None:
        scores[:] = float("-inf")
        scores[:, forced] = 0.0
    if options.suppress_ids:
        scores[:, list(options.suppress_ids)] = float("-inf")
    if options.do_sample:
        if options.temperature != 1.0:
            scores = scores / options.temperature
        if options.top_k:
            scores = top_k_filter(scores, options.top_k)
        if options.top_p < 1.0:
            scores = top_p_filter(scores, options.top_p)
    return scores
