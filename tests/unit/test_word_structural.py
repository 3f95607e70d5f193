"""StructBERT's word-structural objective (lmlab.objectives.word_structural)."""

from types import SimpleNamespace

import pytest
import torch

from lmlab.config import load_config, load_raw
from lmlab.errors import ConfigError
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective
from lmlab.objectives.word_structural import (PERMUTATIONS, WordStructuralConfig,
                                              WordStructuralObjective, shuffle_trigrams)
from lmlab.presets import preset_path

TOKENIZER = SimpleNamespace(mask_id=5, num_special=6, vocab_size=1000, kind="word")


def test_one_trigram_hand_example():
    # Allowed: only positions 2, 3, 4 form a trigram; one trigram is shuffled.
    ids = torch.tensor([3, 10, 11, 12, 13, 5, 14, 4])
    allowed = torch.tensor([0, 0, 1, 1, 1, 0, 1, 0], dtype=torch.bool)
    shuffled, labels = shuffle_trigrams(ids, allowed, 0.05, torch.Generator().manual_seed(0))
    assert labels.tolist() == [-100, -100, 11, 12, 13, -100, -100, -100]
    assert sorted(shuffled[2:5].tolist()) == [11, 12, 13]
    assert shuffled[2:5].tolist() != [11, 12, 13]  # never the identity order
    assert torch.equal(shuffled[[0, 1, 5, 6, 7]], ids[[0, 1, 5, 6, 7]])
    assert len(PERMUTATIONS) == 5


def _batch(rows=4, length=64, seed=0):
    ids = torch.randint(6, 1000, (rows, length), generator=torch.Generator().manual_seed(seed))
    ids[:, 0], ids[:, -1] = 3, 4  # [CLS] … [SEP]
    ids[1, 40:] = 0  # padding
    ids[1, 39] = 4
    mask = (ids != 0).long()
    return {"input_ids": ids, "attention_mask": mask, "step": 3,
            "example_ids": torch.arange(rows)}


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0])
def test_shuffle_is_invertible_and_avoids_masked_and_special_tokens(rate):
    original = _batch()
    mlm = MaskedLMObjective(MaskedLMConfig(), TOKENIZER)
    wso = WordStructuralObjective(WordStructuralConfig(shuffle_rate=rate), TOKENIZER)
    masked = mlm.corrupt(original)
    shuffled = wso.corrupt(masked)
    labels = shuffled["wso_labels"]
    on = labels != -100
    assert on.any()
    # Invertible: the labels put every shuffled position back exactly.
    restored = torch.where(on, labels, shuffled["input_ids"])
    assert torch.equal(restored, masked["input_ids"])
    # Never on a masked position, a special token or padding.
    assert not (on & (masked["mlm_labels"] != -100)).any()
    assert not (on & (original["input_ids"] < 6)).any()
    # Shuffled positions come in disjoint, contiguous trigrams that are permutations.
    for row in range(on.shape[0]):
        positions = on[row].nonzero().squeeze(1).tolist()
        assert len(positions) % 3 == 0
        for k in range(0, len(positions), 3):
            a, b, c = positions[k: k + 3]
            assert (b, c) == (a + 1, a + 2)
            assert sorted(shuffled["input_ids"][row, a: a + 3].tolist()) == \
                sorted(labels[row, a: a + 3].tolist())


def test_budget_is_five_percent_of_the_trigrams():
    ids = torch.arange(6, 206)  # 200 distinct ordinary tokens: 198 trigram starts
    shuffled, labels = shuffle_trigrams(ids, torch.ones(200, dtype=torch.bool), 0.05,
                                        torch.Generator().manual_seed(4))
    assert int((labels != -100).sum()) == 3 * round(0.05 * 198)  # 10 trigrams


def test_static_shuffles_repeat_dynamic_ones_change():
    batch = _batch()
    mlm = MaskedLMObjective(MaskedLMConfig(masking="static"), TOKENIZER)
    labels = {}
    for mode in ("static", "dynamic"):
        wso = WordStructuralObjective(WordStructuralConfig(masking=mode, shuffle_rate=0.3),
                                      TOKENIZER)
        labels[mode] = [wso.corrupt(mlm.corrupt({**batch, "step": s}))["wso_labels"]
                        for s in (1, 2)]
    assert torch.equal(*labels["static"]) and not torch.equal(*labels["dynamic"])


def test_wso_must_follow_mlm():
    raw = load_raw(preset_path("structbert/tiny"))
    raw["objectives"] = [{"name": "wso"}, {"name": "mlm"}, {"name": "sso"}]
    with pytest.raises(ConfigError, match="list {name: mlm} before {name: wso}"):
        load_config(raw=raw)
