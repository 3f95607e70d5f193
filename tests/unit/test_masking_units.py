import torch

from lmlab.objectives.masking_units import (choose_spans, choose_whole_words, truncated_geometric,
                                            word_groups)
from lmlab.objectives.mlm import MaskedLMConfig, mask_tokens


def _words_example():
    # positions 1..12 are candidates (0 and 13 are [CLS]/[SEP]); word starts marked.
    positions = torch.arange(1, 13)
    starts = torch.tensor([1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0], dtype=torch.bool)
    return positions, starts


def test_word_groups_follow_starts_and_gaps():
    positions, starts = _words_example()
    groups = [g.tolist() for g in word_groups(positions, starts)]
    assert groups == [[1, 2, 3], [4], [5, 6], [7], [8], [9, 10, 11, 12]]
    # A gap (a special token between) always ends a word.
    gapped = [g.tolist() for g in word_groups(torch.tensor([1, 2, 4, 5]),
                                              torch.tensor([1, 0, 0, 0], dtype=torch.bool))]
    assert gapped == [[1, 2], [4, 5]]


def test_whole_words_are_never_half_masked():
    positions, starts = _words_example()
    words = [set(g.tolist()) for g in word_groups(positions, starts)]
    for seed in range(200):
        chosen, _ = choose_whole_words(positions, starts, 0.4, torch.Generator().manual_seed(seed))
        chosen = set(chosen.tolist())
        assert len(chosen) <= max(round(0.4 * 12), max(len(w) for w in words))
        for word in words:
            assert word <= chosen or not (word & chosen), (seed, word, chosen)


def test_span_lengths_follow_the_clipped_geometric_law():
    law = truncated_geometric(0.2, 10)
    # Closed form of the truncated mean: 1/p - n q^n / (1 - q^n) = 3.7971 (SpanBERT: "3.8").
    q, n = 0.8, 10
    assert abs(float((law * torch.arange(1, 11)).sum()) - (1 / 0.2 - n * q ** n / (1 - q ** n))) < 1e-12
    assert abs(1 / 0.2 - n * q ** n / (1 - q ** n) - 3.7971) < 1e-4
    draws = torch.multinomial(law.float(), 100_000, replacement=True,
                              generator=torch.Generator().manual_seed(0)) + 1
    frequencies = torch.bincount(draws, minlength=11)[1:].double() / draws.numel()
    assert torch.allclose(frequencies, law, atol=0.005)


def test_spans_are_whole_contiguous_words_within_budget():
    positions = torch.arange(1, 201)
    starts = torch.rand(200, generator=torch.Generator().manual_seed(1)) < 0.7
    starts[0] = True
    words = [set(g.tolist()) for g in word_groups(positions, starts)]
    for seed in range(50):
        chosen, units = choose_spans(positions, starts, 0.15, torch.Generator().manual_seed(seed),
                                     0.2, 10)
        chosen_set = set(chosen.tolist())
        assert len(chosen_set) == chosen.numel()  # no overlap
        assert chosen.numel() <= 30 + 10 * 4  # budget, plus at most the first span's overflow
        for word in words:
            assert word <= chosen_set or not (word & chosen_set)
        for unit in units.unique():  # each span is contiguous positions
            span = chosen[units == unit].sort().values
            assert torch.equal(span, torch.arange(int(span[0]), int(span[0]) + span.numel()))


def test_span_masking_replaces_per_span():
    ids = torch.randint(6, 100, (1, 300))
    config = MaskedLMConfig(unit="span", replace_with_mask=0.8, replace_with_random=0.1)
    corrupted, labels = mask_tokens(ids, ids >= 6, [torch.Generator().manual_seed(3)], config,
                                    5, 6, 100, starts_word=torch.ones(100, dtype=torch.bool))
    chosen = labels[0] != -100  # (300,)
    assert int(chosen.sum()) == 45  # the budget round(0.15 * 300), met exactly here
    # Non-chosen positions are untouched.
    assert torch.equal(corrupted[0, ~chosen], ids[0, ~chosen])
