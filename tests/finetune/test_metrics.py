"""Metrics against hand-computed values."""

import math

import pytest

from lmlab.evaluation.metrics import compute, entity_prf, entity_spans
from lmlab.evaluation.squad_metrics import (char_f1, exact_match, normalize_answer,
                                            segment_chinese, squad_scores, token_f1)


def test_classification_metrics_by_hand():
    gold = ["1", "1", "0", "0", "1"]
    pred = ["1", "0", "0", "1", "1"]
    # TP=2 FP=1 FN=1 TN=1: accuracy 3/5, F1 = 2*2/(2*2+1+1) = 2/3
    scores = compute("f1_accuracy", pred, gold)
    assert scores["accuracy"] == pytest.approx(60.0)
    assert scores["f1"] == pytest.approx(200 / 3, abs=1e-3)
    # MCC = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2-1)/sqrt(3*3*2*2) = 1/6
    assert compute("mcc", pred, gold)["mcc"] == pytest.approx(100 / 6, abs=1e-3)


def test_correlations_by_hand():
    gold = [1.0, 2.0, 3.0, 4.0]
    pred = [1.0, 3.0, 2.0, 4.0]
    scores = compute("pearson_spearman", pred, gold)
    # Spearman: d^2 sum = 0+1+1+0 = 2, rho = 1 - 6*2/(4*15) = 0.8; Pearson equals it here.
    assert scores["spearman"] == pytest.approx(80.0)
    assert scores["pearson"] == pytest.approx(80.0)
    assert list(scores) == ["spearman", "pearson"]


def test_entity_spans_bio_and_bioes():
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 1), ("LOC", 3, 3)}
    assert entity_spans(["I-ORG", "I-ORG", "B-ORG"]) == {("ORG", 0, 1), ("ORG", 2, 2)}
    assert entity_spans(["S-LOC", "B-PER", "I-PER", "E-PER", "O"]) == {("LOC", 0, 0), ("PER", 1, 3)}
    assert entity_spans(["B-PER", "I-LOC"]) == {("PER", 0, 0), ("LOC", 1, 1)}


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    # gold 3 entities, predicted 3, correct 2 (PER, ORG): P = R = F1 = 2/3
    scores = entity_prf(pred, gold)
    assert scores["entity_f1"] == pytest.approx(200 / 3)
    assert scores["precision"] == pytest.approx(200 / 3)


def test_squad_normalisation_and_scores():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the Eiffel tower", "Eiffel Tower.") == 1.0
    # pred tokens [eiffel, tower, in, paris], gold [eiffel, tower]: P=1/2 R=1 -> F1 = 2/3
    assert token_f1("Eiffel Tower in Paris", "the Eiffel Tower") == pytest.approx(2 / 3)
    scores = squad_scores(["Paris", "red"], [["paris", "Paris, France"], ["blue"]])
    assert scores == {"f1": pytest.approx(50.0), "exact_match": pytest.approx(50.0)}


def test_chinese_character_variant():
    assert segment_chinese("我在Beijing大学2008年") == ["我", "在", "beijing", "大", "学", "2008", "年"]
    # pred 北京大学 vs gold 北京师范大学: LCS 4, P = 1, R = 4/6 -> F1 = 0.8
    assert char_f1("北京大学", "北京师范大学") == pytest.approx(0.8)
    scores = compute("cmrc", ["北京大学。"], [["北京大学"]])
    assert scores == {"f1": 100.0, "exact_match": 100.0}
    assert math.isclose(compute("squad", ["北京大学"], [["北京师范大学"]])["f1"], 0.0)
