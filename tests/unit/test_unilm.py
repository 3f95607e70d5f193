"""UniLM's masks on a 5-token example (Dong et al. 2019, Figure 1)."""

import collections

import torch

from lmlab.objectives.unilm import UniLMConfig, UniLMObjective, unilm_mask

T, F = True, False


def test_the_four_masks_match_their_definitions():
    assert unilm_mask("bidirectional", 5).all()
    assert unilm_mask("left_to_right", 5).tolist() == [
        [T, F, F, F, F], [T, T, F, F, F], [T, T, T, F, F], [T, T, T, T, F], [T, T, T, T, T]]
    assert unilm_mask("right_to_left", 5).tolist() == [
        [T, T, T, T, T], [F, T, T, T, T], [F, F, T, T, T], [F, F, F, T, T], [F, F, F, F, T]]
    # Source = first 2 tokens: they see each other only; the target sees the source and
    # its own past.
    assert unilm_mask("seq2seq", 5, source_length=2).tolist() == [
        [T, T, F, F, F], [T, T, F, F, F], [T, T, T, F, F], [T, T, T, T, F], [T, T, T, T, T]]


class _Tok:
    mask_id, num_special, vocab_size, cls_id, sep_id, pad_id = 5, 6, 40, 3, 4, 0


def test_kinds_rotate_with_the_paper_frequencies_and_batches_get_their_mask():
    objective = UniLMObjective(UniLMConfig(), _Tok())
    counts = collections.Counter(objective.kind_for_step(step) for step in range(6000))
    for kind, share in {"bidirectional": 1 / 3, "seq2seq": 1 / 3, "left_to_right": 1 / 6,
                        "right_to_left": 1 / 6}.items():
        assert abs(counts[kind] / 6000 - share) < 0.025, counts
    ids = torch.randint(6, 40, (2, 8))
    attention = torch.ones(2, 8, dtype=torch.long)
    attention[1, 6:] = 0
    step = next(s for s in range(100) if objective.kind_for_step(s) == "seq2seq")
    batch = objective.corrupt({"input_ids": ids, "attention_mask": attention,
                                      "example_ids": torch.arange(2), "step": step})
    mask = batch["attention_mask"]
    assert mask.shape == (2, 8, 8) and not mask[1, :, 6:].any()  # padding never attended
    for row in range(2):
        source = int((batch["segments"][row] == 0).sum()) if row == 0 else \
            int((batch["segments"][row, :6] == 0).sum())
        assert torch.equal(mask[row, :6, :6], unilm_mask("seq2seq", 8, source)[:6, :6])
