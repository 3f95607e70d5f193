"""The lexical probe (issue 21): WordNet hypernymy pairs, the split by synset, the
logistic-regression probe and ``lmlab knowledge probe``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.evaluation.lexical_probe import fit_probe, pair_features
from lmlab.knowledge.lexical_probe import ProbeSplit, hypernym_pairs_by_synset, probe_split
from lmlab.knowledge.wordnet import wordnet_folder


def test_pairs_by_synset_of_a_small_vocabulary(wordnet):
    vocabulary = ["dog", "canine", "cat", "feline", "puppy", "car", "automobile", "carnivore"]
    assert hypernym_pairs_by_synset(wordnet, vocabulary) == {
        "01322604-n": [("puppy", "dog")], "02083346-n": [("canine", "carnivore")],
        "02084071-n": [("dog", "canine")], "02120997-n": [("feline", "carnivore")],
        "02121620-n": [("cat", "feline")]}


def test_split_by_synset_keeps_test_words_out_of_training():
    by_synset = {"s1": [("dog", "canine")], "s2": [("cat", "feline")], "s3": [("puppy", "dog")],
                 "s4": [("kitten", "cat")], "s5": [("car", "vehicle")]}
    split = probe_split(by_synset, test_fraction=0.4, seed=0)
    # seed 0 tests s4 and s5; s2's (cat, feline) has the test word "cat", so it is dropped
    assert split.test == [("car", "vehicle", 1), ("vehicle", "car", 0), ("car", "kitten", 0),
                          ("kitten", "cat", 1), ("cat", "kitten", 0), ("kitten", "car", 0)]
    # (dog, puppy) reversed is the only negative left for (dog, canine) besides its reverse
    assert split.train == [("dog", "canine", 1), ("canine", "dog", 0), ("puppy", "dog", 1),
                           ("dog", "puppy", 0), ("puppy", "canine", 0)]
    train_words = {w for a, b, _ in split.train for w in (a, b)}
    assert not train_words & {w for a, b, _ in split.test for w in (a, b)}


def test_pair_features_are_a_b_product_difference():
    vectors = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert pair_features(vectors, np.array([0]), np.array([1])).tolist() == [
        [1.0, 2.0, 3.0, 5.0, 3.0, 10.0, -2.0, -3.0]]


def test_probe_reads_a_relation_the_vectors_carry():
    # even words are specific, odd ones general: (a, b) is positive when a is specific and
    # b general, which the vectors (generality, 0) carry linearly
    words = [f"w{i}" for i in range(40)]
    levels = np.array([i % 2 for i in range(40)], dtype=float)
    vectors = np.stack([levels, np.zeros(40)], axis=1)
    ids = {w: i for i, w in enumerate(words)}
    rows = [(words[i], words[j], int(levels[i] == 0 and levels[j] == 1))
            for i in range(40) for j in range(40) if i != j]
    split = ProbeSplit([r for r in rows if int(r[0][1:]) < 20 and int(r[1][1:]) < 20],
                       [r for r in rows if int(r[0][1:]) >= 20 and int(r[1][1:]) >= 20])
    result = fit_probe(split, vectors, ids)
    assert result["test_pairs"] == 380 and result["test_positives"] == 100
    assert result["test_majority"] == pytest.approx(280 / 380)
    assert result["test_accuracy"] == 1.0 and result["train_accuracy"] == 1.0


def test_probe_command_on_a_run(tiny_run, wordnet, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["knowledge", "probe", str(tiny_run), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["train_positives"] > 0 and printed["test_positives"] > 0
    assert 0.0 <= printed["test_accuracy"] <= 1.0 and printed["seed"] == 0


def test_a_wordnet_folder_missing_a_file_is_one_line(wordnet, tmp_path, capsys):
    folder = tmp_path / "wn"
    folder.mkdir()
    for path in wordnet_folder().iterdir():
        if path.name != "index.verb":
            (folder / path.name).symlink_to(path)
    assert main(["knowledge", "probe", str(tmp_path / "no-run"), "--wordnet", str(folder)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "wn/index.verb: no such WordNet file" in error
