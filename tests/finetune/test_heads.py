"""Heads: shapes, loss on a tiny batch, CRF Viterbi vs brute force, QA decoding."""

import math

import pytest
import torch

from lmlab.finetune.features import collate
from lmlab.finetune.qa_features import best_answers, decode_qa
from lmlab.heads import (MultipleChoiceHead, SequenceClassificationHead, SequenceHeadConfig,
                         SpanQAHead, TokenClassificationHead, TokenHeadConfig, best_spans)
from lmlab.layers.crf import LinearChainCRF
from lmlab.tasks.examples import QAExample

B, T, D = 3, 7, 16


def _batch(**extra):
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 5:] = 0
    return {"attention_mask": mask, **extra}


def test_sequence_classification_and_regression():
    torch.manual_seed(0)
    hidden = torch.randn(B, T, D)
    for pooling in ("cls", "mean"):
        head = SequenceClassificationHead(D, 3, SequenceHeadConfig(pooling, 0.0))
        batch = _batch(labels=torch.tensor([0, 2, 1]))
        logits = head(hidden, batch)
        assert logits.shape == (B, 3)
        loss = head.loss(logits, batch)
        assert loss.ndim == 0 and loss.item() > 0
        loss.backward()
    regression = SequenceClassificationHead(D, 1, SequenceHeadConfig("mean", 0.0))
    batch = _batch(labels=torch.tensor([0.5, 4.0, 2.0]))
    scores = regression(hidden, batch)
    assert scores.shape == (B,)
    expected = torch.nn.functional.mse_loss(scores, batch["labels"])
    assert torch.isclose(regression.loss(scores, batch), expected)
    # Mean pooling ignores padded positions.
    changed = hidden.clone()
    changed[1, 5:] = 100.0
    assert torch.allclose(regression(changed, batch)[1], scores[1])


def test_token_classification_with_and_without_crf():
    torch.manual_seed(0)
    hidden = torch.randn(B, T, D)
    batch = {"word_starts": torch.tensor([[1, 2, 4], [1, 3, 0], [1, 2, 3]]),
             "word_mask": torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1]]),
             "labels": torch.tensor([[0, 1, 2], [2, 0, -100], [1, 1, 0]])}
    for crf in (False, True):
        head = TokenClassificationHead(D, 4, TokenHeadConfig(crf, 0.0))
        logits = head(hidden, batch)
        assert logits.shape == (B, 3, 4)
        torch.testing.assert_close(logits[0, 2], head.classifier(hidden[0, 4]))
        loss = head.loss(logits, batch)
        assert torch.isfinite(loss) and loss.item() > 0
        assert [len(p) for p in head.predict(logits, batch)] == [3, 2, 3]


def test_crf_viterbi_equals_brute_force_and_nll_normalises():
    torch.manual_seed(1)
    crf = LinearChainCRF(3)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    paths = crf.decode(emissions, mask)
    assert paths[0] == crf.brute_force_best(emissions[0])
    assert paths[1] == crf.brute_force_best(emissions[1, :3])
    # exp(-nll) summed over all 3^3 paths of the short row is 1.
    import itertools
    with torch.no_grad():
        total = sum(torch.exp(-crf.nll(emissions[1:2, :3], torch.tensor([p]), torch.ones(1, 3)))
                    for p in itertools.product(range(3), repeat=3))
    assert abs(float(total) - 1.0) < 1e-4


def test_span_decoding_picks_the_best_valid_span():
    start = [9.0, 1.0, 5.0, 0.0, 4.0, 0.0]
    end = [9.0, 0.0, 0.0, 3.0, 0.0, 6.0]
    context = [False, True, True, True, True, True]
    # [CLS] (0) is not context; best valid is start 2 + end 5 (=11) if length allowed.
    assert best_spans(start, end, context, max_answer_length=30)[0][1:] == (2, 5)
    # With max length 2, the (2,3) span (8) beats (4,5) (10)? no: (4,5) = 4+6 = 10 wins.
    assert best_spans(start, end, context, max_answer_length=2)[0][1:] == (4, 5)
    # An end before the start is never chosen.
    assert all(i <= j for _, i, j in best_spans([0, 1, 9], [0, 9, 1], [True] * 3))


def test_qa_decoding_across_windows_maps_back_to_characters():
    example = QAExample("q", "who?", "Tom met Ann", [])
    features = [{"example": 0, "context_start": 2, "offsets": [(0, 3), (4, 7)]},
                {"example": 0, "context_start": 2, "offsets": [(4, 7), (8, 11)]}]
    low = [[0.0, 0.0]] * 4
    second = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]  # "Ann", score 10
    first = [[0.0, 0.0], [0.0, 0.0], [3.0, 3.0], [0.0, 0.0]]  # "Tom", score 6
    assert decode_qa([example], features, [first, second], 20, 30) == ["Ann"]
    assert decode_qa([example], features[:1], [first], 20, 30) == ["Tom"]
    assert decode_qa([example], features, [low, low], 20, 30)[0] in ("Tom", "met", "Ann",
                                                                     "Tom met", "met Ann")



def test_best_answer_has_characters_score_and_n_best_probability():
    """Window 1 proposes "Tom" (6), "Tom met" (3), "met" (0); window 2 "Ann" (10), "met
    Ann" (5), "met" (0, a repeat): the n-best softmax over the 2 best distinct answers."""
    example = QAExample("q", "who?", "Tom met Ann", [])
    features = [{"example": 0, "context_start": 2, "offsets": [(0, 3), (4, 7)]},
                {"example": 0, "context_start": 2, "offsets": [(4, 7), (8, 11)]}]
    second = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]
    first = [[0.0, 0.0], [0.0, 0.0], [3.0, 3.0], [0.0, 0.0]]
    (answer,) = best_answers([example], features, [first, second], 2, 30)
    assert answer == {"text": "Ann", "start": 8, "end": 11, "score": 10.0,
                      "probability": pytest.approx(1 / (1 + math.exp(-4)))}
    empty = [{"example": 0, "context_start": 2, "offsets": []}]
    assert best_answers([example], empty, [[[0.0, 0.0]] * 2], 20, 30)[0]["text"] == ""

def test_span_head_and_multiple_choice_head():
    torch.manual_seed(0)
    head = SpanQAHead(D)
    batch = _batch(start_positions=torch.tensor([1, 2, 0]), end_positions=torch.tensor([2, 4, 0]))
    logits = head(torch.randn(B, T, D), batch)
    assert logits.shape == (B, T, 2) and logits[1, 6, 0] < -1e3
    assert torch.isfinite(head.loss(logits, batch))
    features = [{"choices": [{"ids": [1, 5, 2], "segments": [0, 0, 0]}] * 4, "label": 3},
                {"choices": [{"ids": [1, 6, 7, 2], "segments": [0, 0, 1, 1]}] * 2, "label": 0}]
    batch = collate(features, "multiple_choice", 0)
    assert batch["input_ids"].shape == (8, 4) and batch["num_choices"] == 4
    choice = MultipleChoiceHead(D, SequenceHeadConfig("cls", 0.0))
    scores = choice(torch.randn(8, 4, D), batch)
    assert scores.shape == (2, 4) and (scores[1, 2:] < -1e3).all()
    assert torch.isfinite(choice.loss(scores, batch))
