"""BART's five noising functions (Lewis et al. 2020 §2.2, Figure 2), as pure functions of
a 1-D token tensor and a ``torch.Generator``; :mod:`lmlab.objectives.bart` combines them.

* token masking: random tokens are replaced with ``[MASK]`` (as BERT);
* token deletion: random tokens are deleted (the model must find the missing positions);
* text infilling: spans with lengths drawn from Poisson(λ = 3) are each replaced with
  one ``[MASK]``; a 0-length span inserts a ``[MASK]``;
* sentence permutation: the document is split into sentences at full stops and they are
  shuffled;
* document rotation: a token is chosen uniformly at random and the document rotated to
  begin with it.

Every count is ``round(rate * n)`` of the n tokens; every draw comes from the generator,
so a (seed, step, example) gives the same noise wherever it is computed.
"""

from __future__ import annotations

import torch


def _count(rate: float, length: int) -> int:
    return min(length, int(round(rate * length)))


def mask_random_tokens(tokens: torch.Tensor, rate: float, mask_id: int,
                       generator: torch.Generator) -> torch.Tensor:
    """(n,) -> (n,): ``round(rate * n)`` positions chosen without replacement -> mask_id."""
    chosen = torch.randperm(tokens.numel(), generator=generator)[:_count(rate, tokens.numel())]
    masked = tokens.clone()
    masked[chosen] = mask_id
    return masked


def delete_random_tokens(tokens: torch.Tensor, rate: float,
                         generator: torch.Generator) -> torch.Tensor:
    """(n,) -> (n - round(rate * n),): the chosen tokens removed, the rest in order."""
    chosen = torch.randperm(tokens.numel(), generator=generator)[:_count(rate, tokens.numel())]
    keep = torch.ones(tokens.numel(), dtype=torch.bool)
    keep[chosen] = False
    return tokens[keep]


def poisson_span_lengths(budget: int, poisson_lambda: float,
                         generator: torch.Generator) -> torch.Tensor:
    """Span lengths drawn from Poisson(λ) until they cover ``budget`` tokens; the last one
    is cut so that they sum to exactly ``budget``. Zero lengths are kept (insertions)."""
    lengths: list[int] = []
    total = 0
    chunk = max(8, int(budget / poisson_lambda) + 8)
    while total < budget:
        for length in torch.poisson(torch.full((chunk,), float(poisson_lambda)),
                                    generator=generator).long().tolist():
            length = min(length, budget - total)
            lengths.append(length)
            total += length
            if total >= budget:
                break
    return torch.tensor(lengths, dtype=torch.long)


def infill_spans(tokens: torch.Tensor, rate: float, poisson_lambda: float, mask_id: int,
                 generator: torch.Generator) -> torch.Tensor:
    """Text infilling: ``round(rate * n)`` tokens in Poisson(λ) spans, each span (a
    0-length one too) replaced by one mask_id. The spans are placed uniformly among the
    kept tokens: span i follows ``gaps[i]`` kept tokens (sorted draws from 0..kept)."""
    length = tokens.numel()
    budget = _count(rate, length)
    if budget == 0:
        return tokens.clone()
    spans = poisson_span_lengths(budget, poisson_lambda, generator)  # (k,)
    kept = length - budget
    gaps = torch.randint(0, kept + 1, (spans.numel(),), generator=generator).sort().values
    pieces, read, kept_so_far = [], 0, 0
    for gap, span in zip(gaps.tolist(), spans.tolist()):
        pieces.append(tokens[read: read + gap - kept_so_far])  # kept tokens before the span
        read += gap - kept_so_far
        kept_so_far = gap
        pieces.append(torch.tensor([mask_id], dtype=tokens.dtype))
        read += span  # the span's tokens are dropped
    pieces.append(tokens[read:])
    return torch.cat(pieces)


def permute_sentences(tokens: torch.Tensor, ends_sentence: torch.Tensor,
                      generator: torch.Generator) -> torch.Tensor:
    """Sentences end after each token whose ``ends_sentence`` (V,) entry is True (a text
    that does not end with one has a last, unfinished sentence); shuffled uniformly."""
    ends = (ends_sentence[tokens].nonzero().squeeze(1) + 1).tolist()
    bounds = [0] + [end for end in ends if end < tokens.numel()] + [tokens.numel()]
    sentences = [tokens[a:b] for a, b in zip(bounds, bounds[1:])]
    order = torch.randperm(len(sentences), generator=generator).tolist()
    return torch.cat([sentences[i] for i in order])


def rotate_document(tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The document rotated to begin at a token chosen uniformly at random."""
    start = int(torch.randint(0, tokens.numel(), (1,), generator=generator))
    return torch.cat([tokens[start:], tokens[:start]])
