"""Per task family fine-tuning defaults (issue 15): options left unset take the family's
values when ``finetune`` starts; set ones are kept."""

import pytest

from lmlab.config import from_dict
from lmlab.errors import ConfigError
from lmlab.finetune.config import BERT_DEFAULTS, FAMILY_DEFAULTS, FinetuneOptions


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_sentence_and_pair_tasks_default_to_the_hf_recipe(kind):
    options = FinetuneOptions().for_kind(kind)
    assert (options.lr, options.epochs, options.batch_size) == (1e-4, 3.0, 32)
    assert options.warmup_ratio == 0.1 and options.max_seq_len == 128
    assert options.pooling == "cls" and options.dropout == 0.1


@pytest.mark.parametrize("kind", ["tagging", "span_qa", "multiple_choice"])
def test_other_families_keep_berts_recipe(kind):
    options = FinetuneOptions().for_kind(kind)
    assert {name: getattr(options, name) for name in BERT_DEFAULTS} == BERT_DEFAULTS
    assert kind not in FAMILY_DEFAULTS


def test_set_options_win_over_family_defaults():
    options = FinetuneOptions(lr=3e-5, warmup_ratio=0.0).for_kind("classification")
    assert (options.lr, options.warmup_ratio, options.batch_size) == (3e-5, 0.0, 32)
    unset = FinetuneOptions()
    unset.for_kind("classification")
    assert unset.lr is None  # for_kind returns a copy


def test_unset_options_validate_and_bad_ones_do_not():
    assert from_dict(FinetuneOptions, {}, "finetune").lr is None
    assert from_dict(FinetuneOptions, {"lr": "1e-4"}, "finetune").lr == 1e-4
    with pytest.raises(ConfigError, match="finetune.lr"):
        from_dict(FinetuneOptions, {"lr": 0}, "finetune")
    with pytest.raises(ConfigError, match="finetune.warmup_ratio"):
        from_dict(FinetuneOptions, {"warmup_ratio": 1.5}, "finetune")
