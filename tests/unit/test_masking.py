import torch

from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective, mask_tokens


class _Tok:
    mask_id, num_special, vocab_size, cls_id, sep_id = 5, 6, 1000, 3, 4


def _batch(rows=400, length=128, step=0):
    ids = torch.randint(6, 1000, (rows, length))
    ids[:, 0], ids[:, -1] = 3, 4  # [CLS] ... [SEP]
    ids[:, 60] = 2  # an <eos> inside
    return {"input_ids": ids, "example_ids": torch.arange(rows), "step": step}


def test_rate_and_80_10_10_proportions_over_a_large_sample():
    objective = MaskedLMObjective(MaskedLMConfig(), _Tok())
    batch = _batch()
    corrupted, labels = objective.choose(batch)
    chosen = labels != -100
    maskable_per_row = 128 - 3
    assert (chosen.sum(1) == round(0.15 * maskable_per_row)).all()  # exactly 19 per row
    assert torch.equal(labels[chosen], batch["input_ids"][chosen])
    n = chosen.sum().item()
    as_mask = (corrupted[chosen] == 5).float().mean().item()
    unchanged = (corrupted[chosen] == batch["input_ids"][chosen]).float().mean().item()
    random_other = 1 - as_mask - unchanged
    # 7,600 chosen positions: 3-sigma bounds are about ±0.014 / ±0.011.
    assert abs(as_mask - 0.8) < 0.015, as_mask
    assert abs(unchanged - 0.1) < 0.012, unchanged  # (+ ~0.1% random hits of the same id)
    assert abs(random_other - 0.1) < 0.012, random_other
    assert n == 400 * 19


def test_special_tokens_are_never_chosen_or_introduced():
    objective = MaskedLMObjective(MaskedLMConfig(mask_rate=0.5), _Tok())
    batch = _batch(rows=200)
    corrupted, labels = objective.choose(batch)
    special = batch["input_ids"] < 6
    assert (labels[special] == -100).all()
    assert torch.equal(corrupted[special], batch["input_ids"][special])
    replaced = (labels != -100) & (corrupted != 5) & (corrupted != batch["input_ids"])
    assert (corrupted[replaced] >= 6).all()  # random replacements are ordinary tokens


def test_static_masking_repeats_and_dynamic_masking_changes_with_step():
    static = MaskedLMObjective(MaskedLMConfig(masking="static"), _Tok())
    dynamic = MaskedLMObjective(MaskedLMConfig(masking="dynamic"), _Tok())
    batch0, batch1 = _batch(rows=8, step=0), None
    batch1 = {**batch0, "step": 7}
    assert torch.equal(static.choose(batch0)[1], static.choose(batch1)[1])
    assert not torch.equal(dynamic.choose(batch0)[1], dynamic.choose(batch1)[1])
    assert torch.equal(dynamic.choose(batch0)[1], dynamic.choose(dict(batch0))[1])


def test_at_least_one_token_is_masked_in_short_rows():
    ids = torch.tensor([[3, 10, 11, 4]])
    corrupted, labels = mask_tokens(ids, ids >= 6, [torch.Generator().manual_seed(0)],
                                    MaskedLMConfig(), 5, 6, 100)
    assert (labels != -100).sum() == 1
