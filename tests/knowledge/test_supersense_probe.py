"""The supersense probe on a frozen encoder (issue 21): the line split, the masked copies,
the allowed-set loss and accuracy against the prior, and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.errors import DataError
from lmlab.evaluation.supersense_probe import (fit_supersense_probe, masked_copies,
                                                split_sentences)


def test_split_keeps_distinct_lines_in_a_seeded_order():
    lines = [[1, 2], [3], [1, 2], [], [4, 5, 6], [7], [8, 9]]
    train_side, test_side = split_sentences(lines, seed=0, max_tokens=0, test_fraction=0.4)
    # distinct non-empty: [1,2] [3] [4,5,6] [7] [8,9]; default_rng(0).permutation(5)
    order = np.random.default_rng(0).permutation(5).tolist()
    assert order == [2, 4, 3, 0, 1]
    assert train_side == [[4, 5, 6], [8, 9], [7]] and test_side == [[1, 2], [3]]
    assert not {tuple(x) for x in train_side} & {tuple(x) for x in test_side}
    # the token budget stops after the line that reaches it: 3 + 2 >= 4
    train_side, test_side = split_sentences(lines, 0, max_tokens=4, test_fraction=0.4)
    assert train_side == [[4, 5, 6]] and test_side == [[8, 9]]
    with pytest.raises(DataError, match="at least 2 distinct lines"):
        split_sentences([[1], [1]], 0, 0, 0.5)


def test_each_sense_word_is_read_once_at_a_mask():
    line, senses = [2, 10, 11, 12, 13, 3], [False, True, False, True, True, False]
    # sense words at 1, 3, 4; default_rng([0, 0]).permutation(3) = [2, 0, 1] deals
    # positions 4, 1, 3 round-robin into 2 groups: {4, 3} and {1}
    assert np.random.default_rng([0, 0]).permutation(3).tolist() == [2, 0, 1]
    assert masked_copies(line, senses, groups=2, seed=0, index=0, mask_id=4) == [
        ([2, 10, 11, 4, 4, 3], [3, 4]), ([2, 4, 11, 12, 13, 3], [1])]
    copies = masked_copies(line, senses, groups=7, seed=0, index=0, mask_id=4)
    assert len(copies) == 3 and sorted(p for _, ps in copies for p in ps) == [1, 3, 4]
    assert masked_copies(line, senses, 0, 0, 0, 4) == [(line, [1, 3, 4])]  # unmasked
    assert masked_copies(line, [False] * 6, 7, 0, 0, 4) == []


def test_probe_accuracy_counts_a_top_sense_inside_the_allowed_set():
    def sets(*senses):
        allowed = np.zeros((len(senses), 45), dtype=bool)
        for row, chosen in enumerate(senses):
            allowed[row, list(chosen)] = True
        return allowed

    train_x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.1]])
    train_allowed = sets({0}, {1}, {1})  # sense 1 is allowed most often: the prior
    test_x = np.array([[3.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    test_allowed = sets({0}, {1, 2}, {2})
    result = fit_supersense_probe(train_x, train_allowed, test_x, test_allowed)
    # the probe answers 0, 1, 1: right, right (1 in {1, 2}), wrong (1 not in {2})
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["train_accuracy"] == 1.0
    assert result["prior_supersense"] == 1 and result["prior_accuracy"] == pytest.approx(1 / 3)
    assert (result["train_words"], result["test_words"]) == (3, 3)
    # the same fit again: seeded init, full-batch L-BFGS
    assert fit_supersense_probe(train_x, train_allowed, test_x, test_allowed) == result
    with pytest.raises(DataError, match="need a non-empty A"):
        fit_supersense_probe(train_x, sets({0}, set(), {1}), test_x, test_allowed)


def test_a_run_without_a_head_falls_back_to_the_probe(tiny_run, wordnet, capsys):
    assert main(["knowledge", "supersense", str(tiny_run), "--max-tokens", "600"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "no supersense head" in captured.err and "--probe" in captured.err
    assert result["method"] == "probe" and result["masked"] and result["test_words"] > 0
    assert result["train_lines"] > result["test_lines"] > 0
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 < result["prior_accuracy"] < 1.0


def test_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["knowledge", "supersense", str(tmp_path / "nope"), "--probe"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "nope: no such run folder" in error
