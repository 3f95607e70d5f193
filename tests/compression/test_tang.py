"""Tang et al. 2019: augmentation rules (exact, scripted and seeded), the logit-MSE
objective, and ``lmlab compress --method tang`` end to end on the tiny WNLI run."""

from __future__ import annotations

import json
import random

import pytest
import torch
from torch import nn

from lmlab.cli import main
from lmlab.compression.distillation.augment import (AugmentSettings, augment_texts,
                                                    augment_words, pos_lexicon, tag_pools,
                                                    treebank_lexicon)
from lmlab.compression.distillation.tang import LogitMSEObjective
from lmlab.errors import ConfigError, DataError
from lmlab.finetune.run_folder import load_finetuned

LEXICON = {"the": "DT", "a": "DT", "movie": "NN", "film": "NN", "good": "JJ", "bad": "JJ"}
SENTENCES = [["the", "movie", "is", "good"], ["a", "bad", "film"], ["the", "film"]]
POOLS = tag_pools(SENTENCES, LEXICON)


class Scripted:
    """A stand-in for random.Random that returns scripted draws and records choices."""

    def __init__(self, uniforms, choice=0, randint=1, randrange=0):
        self.uniforms, self.choice, self.ints, self.start = list(uniforms), choice, randint, randrange
        self.asked = []

    def random(self):
        return self.uniforms.pop(0)

    def choices(self, population, weights):
        self.asked.append((list(population), list(weights)))
        return [population[self.choice]]

    def randint(self, low, high):
        assert (low, high) == (1, 5)
        return self.ints

    def randrange(self, stop):
        assert 0 <= self.start < stop
        return self.start


def test_pos_lexicon_takes_each_words_most_frequent_tag():
    pairs = [("Run", "VB"), ("run", "NN"), ("run", "NN"), ("*T*-1", "-NONE-"), ("up", "RP"),
             ("up", "IN")]
    assert pos_lexicon(pairs) == {"run": "NN", "up": "RP"}  # tie: the first seen


def test_tag_pools_are_unigram_counts_per_tag():
    assert POOLS == {"DT": (["the", "a"], [2, 1]), "NN": (["movie", "film"], [1, 2]),
                     "JJ": (["good", "bad"], [1, 1])}


def test_masking_replacement_and_keeping_follow_one_draw_per_word():
    settings = AugmentSettings(p_mask=0.1, p_pos=0.1, p_ngram=0.25)
    # the: 0.05 < 0.1 mask; movie: 0.15 in [0.1, 0.2) replace; is: 0.15 but untagged -> kept;
    # good: 0.5 kept; n-gram draw 0.9 >= 0.25: no cut
    rng = Scripted([0.05, 0.15, 0.15, 0.5, 0.9], choice=1)
    out = augment_words(["the", "movie", "is", "good"], rng, settings, LEXICON, POOLS)
    assert out == ["[MASK]", "film", "is", "good"]
    assert rng.asked == [(["movie", "film"], [1, 2])]  # the NN unigram distribution


def test_ngram_sampling_keeps_one_window():
    settings = AugmentSettings(p_mask=0.1, p_pos=0.1, p_ngram=0.25)
    rng = Scripted([0.5, 0.5, 0.5, 0.5, 0.2], randint=2, randrange=1)  # 0.2 < 0.25: cut
    assert augment_words(["the", "movie", "is", "good"], rng, settings, LEXICON,
                         POOLS) == ["movie", "is"]
    rng = Scripted([0.5, 0.5, 0.1], randint=5, randrange=0)  # n = 5 > 2 words: all kept
    assert augment_words(["a", "film"], rng, settings, LEXICON, POOLS) == ["a", "film"]


def test_seeded_augmentation_is_exact():
    settings = AugmentSettings(p_mask=0.3, p_pos=0.3, p_ngram=0.25, n_iter=4)
    samples = augment_texts(("the movie is good",), random.Random(0), settings, LEXICON, POOLS)
    # Random(0) draws 0.844, 0.758, 0.421 (>= 0.6: kept), 0.259 (< 0.3: masked), then
    # 0.511 (>= 0.25: no n-gram cut) for the first sample; a replacement's choice consumes
    # a draw of its own, so the later samples read the stream further on
    assert samples == [("the movie is [MASK]",), ("a film is good",),
                       ("[MASK] movie is [MASK]",), ("the movie is bad",)]


def test_augment_texts_drops_repeats_and_the_original():
    keep = AugmentSettings(p_mask=0, p_pos=0, p_ngram=0, n_iter=5)
    assert augment_texts(("a film",), random.Random(0), keep, LEXICON, POOLS) == []
    assert augment_texts(("a film",), random.Random(0), AugmentSettings(n_iter=0), LEXICON,
                         POOLS) == []
    masked = AugmentSettings(p_mask=1, p_pos=0, p_ngram=0, n_iter=3)
    assert augment_texts(("a film", "the movie"), random.Random(0), masked, LEXICON,
                         POOLS) == [("[MASK] [MASK]", "[MASK] [MASK]")]


@pytest.mark.parametrize("settings, message", [
    (AugmentSettings(p_mask=1.5), "--set p_mask=1.5: must be in [0, 1]"),
    (AugmentSettings(p_mask=0.6, p_pos=0.6), "their sum must be <= 1"),
    (AugmentSettings(n_iter=-1), "--set n_iter=-1: must be an integer >= 0"),
    (AugmentSettings(max_ngram=0), "--set max_ngram=0: must be an integer >= 1"),
])
def test_bad_augmentation_settings_are_one_line(settings, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings.validate()


def test_treebank_lexicon(shared_data, tmp_path):
    if not (shared_data / "nltk_data" / "corpora" / "treebank.zip").exists():
        pytest.skip("no NLTK treebank sample")
    lexicon = treebank_lexicon(shared_data)
    assert len(lexicon) == 10947
    assert (lexicon["the"], lexicon["good"], lexicon["film"], lexicon["run"]) == \
        ("DT", "JJ", "NN", "VB")
    with pytest.raises(DataError, match="treebank.zip: missing"):
        treebank_lexicon(tmp_path)


class Fixed(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, batch):
        return self.logits * 1


def test_logit_mse_objective_is_the_squared_distance():
    teacher = Fixed([[0.0, 0.0], [1.0, 1.0]])
    out = LogitMSEObjective(teacher)(Fixed([[1.0, 2.0], [0.0, 0.0]]), {})
    assert out.loss.item() == pytest.approx((5 + 2) / 2)  # (1² + 2²), (1² + 1²): mean
    assert not teacher.logits.requires_grad and not teacher.training


def test_compress_tang_end_to_end(finetuned_run, tmp_path, capsys):
    out = tmp_path / "tang"
    assert main(["compress", str(finetuned_run), "--method", "tang", "--set", "n_iter=2",
                 "--set", "epochs=1", "--set", "batch_size=16", "--set", "cell_size=16",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["synthetic_examples"] > 0 and summary["train_examples"] == 635
    config, _, model = load_finetuned(out)
    assert config.model.encoder.name == "bilstm" and config.model.encoder.num_layers == 1
    assert model.backbone.encoder.forward_layers[0].hidden_size == 16
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        summary["student"]["dev"]["accuracy"], abs=1e-9)


@pytest.mark.parametrize("setting, message", [
    ("cell_size=-1", "--set cell_size=-1: must be an integer >= 0"),
    ("p_pos=2", "--set p_pos=2: must be in [0, 1]"),
])
def test_bad_tang_settings_are_one_line(finetuned_run, tmp_path, capsys, setting, message):
    assert main(["compress", str(finetuned_run), "--method", "tang", "--set", setting,
                 "--out", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1
