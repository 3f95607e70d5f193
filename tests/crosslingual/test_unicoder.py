"""Unicoder's three cross-lingual tasks (Huang et al. 2019, §3): word-recovery attention
only across languages (exact weights), the paraphrase rows and labels, language-switched
cross-lingual MLM rows, the hsk-sentences-audio pairs, and config errors. Training,
checkpoints and exact resume of unicoder/tiny: tests/smoke, tests/training/test_resume.py."""

import math

import pytest
import torch

from lmlab.config import load_config
from lmlab.crosslingual.hsk import hsk_glosses, hsk_pairs
from lmlab.crosslingual.pair_sources import pair_sources
from lmlab.errors import ConfigError
from lmlab.objectives.cross_mlm import switched_row
from lmlab.objectives.paraphrase import paraphrase_choice
from lmlab.objectives.base import row_generator
from lmlab.objectives.word_recovery import (WordRecoveryConfig, WordRecoveryObjective,
                                             recovery_attention)
from lmlab.presets import preset_path


def _layout():
    # [CLS] a b [SEP] y1 y2 y3 [SEP] pad: a, b (language 0) recover from y1..y3 (language 1)
    recover = torch.tensor([[0, 1, 1, 0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    context = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0, 0]], dtype=torch.bool)
    return recover, context


def test_word_recovery_attends_only_across_languages():
    recover, context = _layout()
    vectors = torch.randn(1, 9, 4, generator=torch.Generator().manual_seed(0))
    weights = recovery_attention(vectors, recover, context, torch.randn(12))
    languages = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1])
    same_language = languages[:, None] == languages[None, :]
    assert weights[0][same_language].abs().sum() == 0  # never a word of its own language
    assert weights[0, ~recover[0]].abs().sum() == 0  # only the words to recover attend
    assert weights[0, :, ~context[0]].abs().sum() == 0  # never [CLS]/[SEP]/padding
    assert torch.allclose(weights[0, 1:3].sum(-1), torch.ones(2))


def test_word_recovery_weights_exact():
    recover, context = _layout()
    vectors = torch.zeros(1, 9, 2)
    vectors[0, 1] = torch.tensor([1.0, 0.0])  # a
    vectors[0, 4], vectors[0, 5], vectors[0, 6] = (torch.tensor([1.0, 0.0]),
                                                   torch.tensor([0.0, 1.0]),
                                                   torch.tensor([2.0, 0.0]))
    # W = [w_x; w_y; w_xy] = [0 0; 0 0; 1 0]: A_ij = x_i[0] * y_j[0]
    weights = recovery_attention(vectors, recover, context, torch.tensor([0., 0, 0, 0, 1, 0]))
    scores = torch.tensor([1.0, 0.0, 2.0])
    assert torch.allclose(weights[0, 1, 4:7], torch.softmax(scores, 0))  # for a: e^1, e^0, e^2
    assert torch.allclose(weights[0, 2, 4:7], torch.full((3,), 1 / 3))  # b = 0: uniform
    recovered = weights[0] @ vectors[0]  # (T, E): eq. 2
    total = math.e + 1 + math.e ** 2
    assert torch.allclose(recovered[1], torch.tensor([(math.e + 2 * math.e ** 2) / total,
                                                      1 / total]))


def test_paraphrase_choice_is_half_positive_and_never_itself():
    labels, others = [], []
    for example in range(400):
        label, other = paraphrase_choice(row_generator(0, 0, example, 26), 3, 10)
        labels.append(label)
        others.append(other)
        assert (label == 1) == (other == 3)
    assert 170 <= sum(labels) <= 230
    assert set(o for o, l in zip(others, labels) if l == 0) == set(range(10)) - {3}


def test_switched_row_languages_and_cut():
    ids, languages = switched_row([[10, 11], [20], [30, 31, 32]], [0, 1, 0], cls_id=2,
                                  sep_id=3, max_len=8)
    assert ids == [2, 10, 11, 3, 20, 3, 30, 3]  # the last sentence cut to fit, still [SEP]
    assert languages == [0, 0, 0, 0, 1, 1, 0, 0]


def test_hsk_pairs_and_glosses():
    pairs = hsk_pairs()
    assert len(pairs) == 4354
    assert (pairs[0].source, pairs[0].target) == ("Hello, teacher!", "老师，您好！")
    assert hsk_glosses()[0][0] == ("老师", "teacher")


def test_pair_sources_keep_the_held_out_pairs_out(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("".join(f"s{i}\tt{i}\n" for i in range(10)), encoding="utf-8")
    extra = tmp_path / "extra.txt"
    extra.write_text("e1\tf1\n", encoding="utf-8")
    train, held_out = pair_sources(str(path), 4, [str(extra)])
    assert len(train) == 7 and len(held_out) == 4 and train[-1].source == "e1"
    assert not {p.source for p in held_out} & {p.source for p in train}


def test_unicoder_config_errors():
    with pytest.raises(ConfigError, match=r"objectives\[2\]\.target_language: language id 5 is "
                                          r"not in the config"):
        load_config(preset_path("unicoder/tiny"), ["objectives.2.target_language=5"])
    with pytest.raises(ConfigError, match=r"objectives\[4\]\.pairs_per_row: must be >= 1"):
        load_config(preset_path("unicoder/tiny"), ["objectives.4.pairs_per_row=0"])


class _Tokenizer:
    pad_id, unk_id, eos_id, cls_id, sep_id, mask_id = 0, 1, 2, 3, 4, 5
    num_special, vocab_size = 6, 50


class _Stream:
    def train(self):
        return [([10, 11], [20, 21, 22]), ([12], [23])]

    def chosen(self, step, count):
        return [0, 1][:count]


def test_word_recovery_rows_exact():
    objective = WordRecoveryObjective(WordRecoveryConfig(), _Tokenizer())
    objective.stream = _Stream()
    rows = objective.rows(step=0, count=2, max_len=16)
    # row 0 (even) recovers English from Chinese; row 1 (odd) recovers Chinese from English
    assert rows["xwr_input_ids"].tolist() == [[3, 10, 11, 4, 20, 21, 22, 4],
                                              [3, 23, 4, 12, 4, 0, 0, 0]]
    assert rows["xwr_positions"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 0, 1, 0, 0, 0]]
    assert rows["xwr_languages"].tolist() == [[0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0]]
    assert rows["xwr_recover"].long().tolist() == [[0, 1, 1, 0, 0, 0, 0, 0],
                                                   [0, 1, 0, 0, 0, 0, 0, 0]]
    assert rows["xwr_context"].long().tolist() == [[0, 0, 0, 0, 1, 1, 1, 0],
                                                   [0, 0, 0, 1, 0, 0, 0, 0]]
    assert rows["xwr_first"].tolist() == [[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]]
