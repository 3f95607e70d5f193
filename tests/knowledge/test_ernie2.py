"""ERNIE 2.0 (issue 21): the staged schedule, the raw-text tasks' targets on written
examples, sentence-distance pairs and task embeddings."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lmlab.config import StageConfig, check_stages, load_config
from lmlab.data.batching import IGNORE
from lmlab.data.pairs import PairBatches
from lmlab.embeddings.token_embedding import EmbeddingConfig, TokenEmbedding
from lmlab.errors import ConfigError, DataError
from lmlab.objectives.base import row_generator
from lmlab.objectives.capitalization import (CapitalizationConfig, CapitalizationObjective,
                                             case_tables)
from lmlab.objectives.sentence_reorder import class_offset, num_classes, reorder_row
from lmlab.objectives.token_document import token_document_labels
from lmlab.presets import preset_path
from lmlab.training.stages import active

SPECIAL = ["[PAD]", "[UNK]", "[EOS]", "[CLS]", "[SEP]", "[MASK]"]
X = IGNORE


def _stages(*pairs):
    return [StageConfig(start_step=start, objectives=list(names)) for start, names in pairs]


def test_three_stage_schedule_adds_tasks_and_keeps_the_earlier_ones():
    names = ["reorder", "mlm", "sd", "tdr", "cap"]
    stages = _stages((0, ["mlm", "sd"]), (100, ["cap", "tdr"]), (200, ["reorder"]))
    check_stages(stages, names)
    assert active(stages, names, 0) == [False, True, True, False, False]
    assert active(stages, names, 99) == [False, True, True, False, False]
    assert active(stages, names, 100) == [False, True, True, True, True]
    assert active(stages, names, 199) == [False, True, True, True, True]
    assert active(stages, names, 200) == [True] * 5
    assert active(stages, names, 10_000) == [True] * 5
    # an objective that no stage names trains from step 0; no stages: everything always
    assert active(_stages((0, ["mlm"]), (5, ["sd"])), ["mlm", "sd", "cap"], 3) == [True, False, True]
    assert active([], names, 0) == [True] * 5
    # by fractions of the run: 0.25 and 0.5 of 8 steps are steps 2 and 4
    by_fraction = [StageConfig(start_fraction=f, objectives=list(n)) for f, n in
                   ((0.0, ["mlm", "sd"]), (0.25, ["cap", "tdr"]), (0.5, ["reorder"]))]
    check_stages(by_fraction, names)
    assert [sum(active(by_fraction, names, step, total_steps=8)) for step in range(8)] == \
        [2, 2, 4, 4, 5, 5, 5, 5]


@pytest.mark.parametrize("stages, message", [
    (((1, ["mlm"]),), "train.stages.0.start_step: the first stage must start at 0"),
    (((0, ["mlm"]), (0, ["sd"])), "train.stages.1.start_step: stages must start at increasing"),
    (((0, ["mlm"]), (5, ["nsp"])), "train.stages.1.objectives: 'nsp' is not an objective"),
    (((0, ["mlm"]), (5, ["mlm"])), "train.stages.1.objectives: 'mlm' is already added"),
])
def test_bad_stages_are_one_line_errors(stages, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        check_stages(_stages(*stages), ["mlm", "sd"])


def test_preset_stages_are_read_and_checked_on_load():
    config = load_config(preset_path("ernie2/tiny"))
    assert [(s.start_fraction, s.objectives) for s in config.train.stages] == [
        (0.0, ["mlm", "sd"]), (0.25, ["cap", "tdr"]), (0.5, ["reorder"])]
    with pytest.raises(ConfigError, match="train.stages: give every stage's start as"):
        load_config(preset_path("ernie2/tiny"), ["train.stages.2.start_step=9"])
    with pytest.raises(ConfigError, match="train.stages.2.objectives: 'nsp' is not"):
        load_config(preset_path("ernie2/tiny"), ["train.stages.2.objectives=[nsp]"])


def test_capitalization_lowercases_the_input_and_labels_each_word():
    vocabulary = SPECIAL + ["the", "The", "Paris", "paris", "##is", "Sega", "1999", "city"]
    #                        6      7      8        9        10      11      12      13
    lower, labels = case_tables(vocabulary, 6)
    assert lower.tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 9, 9, 10, 11, 12, 13]
    # Sega has no lower-case twin (its input would show the case), 1999 and ##is no label
    assert labels.tolist() == [X, X, X, X, X, X, 0, 1, 1, 0, X, X, X, 0]

    tokenizer = SimpleNamespace(vocab_size=len(vocabulary), num_special=6,
                                id_to_token=lambda i: vocabulary[i])
    objective = CapitalizationObjective(CapitalizationConfig(), tokenizer)
    #                 [CLS] The  Paris [MASK] Sega city [SEP]
    batch = {"input_ids": torch.tensor([[3, 7, 8, 5, 11, 13, 4]]),
             "mlm_labels": torch.tensor([[X, X, X, 9, X, X, X]])}
    out = objective.corrupt(batch)
    assert out["input_ids"].tolist() == [[3, 6, 9, 5, 11, 13, 4]]
    assert out["cap_labels"].tolist() == [[X, 1, 1, X, X, 0, X]]


def test_capitalization_needs_a_cased_vocabulary():
    with pytest.raises(ConfigError, match=r"objectives\[4\]: cap predicts .*tokenizer.lowercase: false"):
        load_config(preset_path("ernie2/tiny"), ["data.tokenizer.lowercase=true"])


def test_token_document_relation_labels_a_tokens_found_in_b():
    #            [CLS] 10  11  12 [SEP] 12  13  10 [SEP] [PAD]
    ids = torch.tensor([[3, 10, 11, 12, 4, 12, 13, 10, 4, 0]] * 2)
    segments = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1, 0]] * 2)
    labels = token_document_labels(ids, segments, torch.tensor([1, 2]), num_special=6)
    assert labels.tolist() == [[X, 1, 0, 1, X, X, X, X, X, X],
                               [X] * 10]  # row 2: B from another document


def test_tdr_needs_sd_and_reorder_must_read_the_text_first():
    with pytest.raises(ConfigError, match=r"tdr reads the sentence-distance pairs"):
        load_config(preset_path("ernie2/tiny"), ["objectives.2.name=sso"])
    raw = load_config(preset_path("ernie2/tiny")).to_dict()
    raw["objectives"] = [raw["objectives"][1], raw["objectives"][0], *raw["objectives"][2:]]
    with pytest.raises(ConfigError, match=r"reorder reads the uncorrupted text; list it before mlm"):
        load_config(raw=raw)


def test_sentence_reordering_targets_on_a_written_paragraph():
    assert num_classes(3) == 9 and [class_offset(n) for n in (1, 2, 3)] == [0, 1, 3]
    paragraph = [10, 11, 12, 13, 14, 15]
    # seed 0: 2 segments cut after 5 tokens, in order -> class 1 + 0
    assert reorder_row(paragraph, 3, row_generator(0), 3, 4) == (
        [3, 10, 11, 12, 13, 14, 4, 15, 4], 1)
    # seed 1: 3 segments [10] [11] [12..15], order (1, 0, 2) = permutation 2 -> class 3 + 2
    assert reorder_row(paragraph, 3, row_generator(1), 3, 4) == (
        [3, 11, 4, 10, 4, 12, 13, 14, 15, 4], 5)
    # seed 2: one segment -> class 0
    assert reorder_row(paragraph, 3, row_generator(2), 3, 4) == (
        [3, 10, 11, 12, 13, 14, 15, 4], 0)
    assert reorder_row([10], 3, row_generator(1), 3, 4) == ([3, 10, 4], 0)


def _store(lines_per_doc):
    """Token store stand-in: every line is 3 tokens, documents of the given line counts."""
    line_ends = np.cumsum([3] * sum(lines_per_doc))
    doc_ends = line_ends[np.cumsum(lines_per_doc) - 1]
    return SimpleNamespace(ids=np.arange(6, 6 + int(line_ends[-1])), line_ends=line_ends,
                           doc_ends=doc_ends)


def test_sentence_distance_pairs_are_adjacent_same_document_or_elsewhere():
    store = _store([5, 5, 5, 5])
    batches = PairBatches(store, 4, 12, seed=0, task="sd", cls_id=3, sep_id=4, pad_id=0)
    batches._half_lines = 1  # A and B one line each, so lines are easy to read off
    seen = set()
    for index in range(60):
        a, b, label = batches.example(0, index)
        line_a, line_b = (a[0] - 6) // 3, (b[0] - 6) // 3
        same_doc = line_a // 5 == line_b // 5
        seen.add(label)
        if label == 0:
            assert line_b == line_a + 1 and same_doc
        elif label == 1:
            assert same_doc and abs(line_b - line_a) >= 2
        else:
            assert not same_doc
    assert seen == {0, 1, 2}


def test_sentence_distance_refuses_documents_too_short_for_class_1():
    batches = PairBatches(_store([2] * 10), 4, 12, seed=0, task="sd", cls_id=3, sep_id=4,
                          pad_id=0)
    with pytest.raises(DataError, match="sd.* needs documents of at least three lines"):
        for index in range(30):
            batches.example(0, index)


def test_task_embedding_defaults_to_task_0_and_adds_the_given_task():
    config = EmbeddingConfig(vocab_size=10, hidden_size=4, position="none", num_tasks=2,
                             dropout=0.0)
    embedding = TokenEmbedding(config)
    ids = torch.tensor([[1, 2, 3]])
    tokens = embedding.tokens(ids)
    assert torch.equal(embedding(ids), tokens + embedding.tasks.weight[0])
    assert torch.equal(embedding(ids, tasks=torch.tensor([1])), tokens + embedding.tasks.weight[1])
    plain = TokenEmbedding(EmbeddingConfig(vocab_size=10, hidden_size=4, position="none"))
    with pytest.raises(ValueError, match="num_tasks is 0"):
        plain(ids, tasks=torch.tensor([1]))
