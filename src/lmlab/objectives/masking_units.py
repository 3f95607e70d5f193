"""Which positions a masked-LM corruption chooses: tokens, whole words or spans.

* ``token`` — BERT (Devlin et al. 2019): ``round(rate · n)`` positions uniformly.
* ``whole_word`` — BERT-wwm (Cui et al. 2019; Google's ``--do_whole_word_mask``): a word's
  sub-tokens are chosen together; words are taken in random order while they fit the
  budget ``round(rate · n)``.
* ``span`` — SpanBERT (Joshi et al. 2020, §3.1): span lengths in words follow a geometric
  law ``Geo(p)`` clipped at ``max_span`` (p = 0.2, 10: mean 3.8 words), starts are words
  chosen uniformly, spans never overlap, and spans are added until the budget is spent.

A word is a maximal run of candidate positions in which only the first token starts a
word (``starts_word``); non-candidate positions (special tokens) always end a word.
Every function takes a ``torch.Generator`` so masks are a pure function of the seed.
"""

from __future__ import annotations

import torch


def word_groups(positions: torch.Tensor, starts_word: torch.Tensor) -> list[torch.Tensor]:
    """Split candidate positions (n,) into words; ``starts_word`` (n,) marks word starts."""
    if positions.numel() == 0:
        return []
    gap = torch.ones_like(starts_word)
    gap[1:] = positions[1:] != positions[:-1] + 1
    boundaries = (starts_word | gap).nonzero().squeeze(1).tolist() + [positions.numel()]
    return [positions[a:b] for a, b in zip(boundaries[:-1], boundaries[1:])]


def truncated_geometric(p: float, max_length: int) -> torch.Tensor:
    """P(ℓ) ∝ p (1-p)^(ℓ-1) for ℓ = 1..max_length (SpanBERT's clipped span-length law)."""
    lengths = torch.arange(1, max_length + 1, dtype=torch.float64)
    weights = p * (1 - p) ** (lengths - 1)
    return weights / weights.sum()  # index ℓ-1


def choose_tokens(positions, rate, generator):
    count = max(1, round(rate * positions.numel()))
    chosen = positions[torch.randperm(positions.numel(), generator=generator)[:count]]
    return chosen, torch.arange(chosen.numel())  # every token is its own unit


def choose_whole_words(positions, starts_word, rate, generator):
    words = word_groups(positions, starts_word)
    budget = max(1, round(rate * positions.numel()))
    chosen, units, total = [], [], 0
    for index in torch.randperm(len(words), generator=generator).tolist():
        word = words[index]
        if total + word.numel() > budget:
            continue  # as Google's create_pretraining_data: skip words that overflow
        chosen.append(word)
        units.append(torch.arange(total, total + word.numel()))  # per-token decisions
        total += word.numel()
        if total >= budget:
            break
    if not chosen:  # every word is longer than the budget: take the first one drawn
        word = words[int(torch.randint(len(words), (1,), generator=generator))]
        chosen, units = [word], [torch.arange(word.numel())]
    return torch.cat(chosen), torch.cat(units)


def choose_spans(positions, starts_word, rate, generator, p: float, max_span: int):
    words = word_groups(positions, starts_word)
    budget = max(1, round(rate * positions.numel()))
    law = truncated_geometric(p, max_span)
    taken = torch.zeros(len(words), dtype=torch.bool)
    chosen, units, total = [], [], 0
    for attempt in range(10 * len(words)):
        if total >= budget:
            break
        length = int(torch.multinomial(law, 1, generator=generator)) + 1
        start = int(torch.randint(len(words), (1,), generator=generator))
        stop = min(len(words), start + length)
        if taken[start:stop].any():
            continue
        span = torch.cat(words[start:stop])
        if total + span.numel() > budget and chosen:
            continue
        taken[start:stop] = True
        chosen.append(span)
        units.append(torch.full((span.numel(),), len(units)))  # one decision per span
        total += span.numel()
    return torch.cat(chosen), torch.cat(units)
