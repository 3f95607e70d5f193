"""Translate-train files (the lexicon stand-in for MT) and Unicoder's multi-language
fine-tuning (Huang et al. 2019 §3.5): the extra training set, per-row language ids from the
features through the batch to the backbone."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.features import collate
from lmlab.finetune.model import FineTuneModel
from lmlab.finetune.multi_language import extra_training, with_language
from lmlab.finetune.task_data import subset
from lmlab.recipes.translate_train import translate_task, translated_tsv
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.examples import TextExample

LEXICON = {"good": "好", "movie": "电影", "bad": "坏", "this": "这"}


def test_translated_tsv_is_read_by_the_target_tasks(tmp_path):
    single = [TextExample("this good movie !", None, "1"), TextExample("so bad", None, "0")]
    assert translated_tsv(single, LEXICON) == "text_a\tlabel\n这好电影!\t1\n坏\t0\n"
    path = tmp_path / "sst2.zh.tsv"
    path.write_text(translated_tsv(single, LEXICON))
    assert [(e.text_a, e.label) for e in get_task("clue/chnsenticorp").read(str(path))] == [
        ("这好电影!", "1"), ("坏", "0")]
    pairs = [TextExample("this movie", "a bad movie", "not_entailment")]
    path.write_text(translated_tsv(pairs, LEXICON))
    assert [(e.text_a, e.text_b, e.label) for e in get_task("clue/xnli_2way").read(str(path))] \
        == [("这电影", "坏电影", "not_entailment")]


def test_translate_task_writes_aligned_files_and_coverage(tmp_path, monkeypatch):
    monkeypatch.setattr("lmlab.recipes.translate_train.hsk_lexicon", lambda: LEXICON)
    files = translate_task("glue/sst2", tmp_path / "tr", splits=("dev[:3]", "dev[3:5]"))
    lines = (tmp_path / "tr" / "dev.tsv").read_text().splitlines()
    assert lines[0] == "text_a\tlabel" and len(lines) == 3  # the dev[3:5] file replaced it
    assert files["coverage"]["source"] == "glue/sst2/dev[:3]"
    assert files["coverage"]["entries"] == 4 and files["coverage"]["tokens"] > 0
    with pytest.raises(ConfigError, match="clue/chnsenticorp must be an English classification"):
        translate_task("clue/chnsenticorp", tmp_path / "x")


def test_extra_training_takes_the_same_subset_and_checks_labels(tmp_path):
    source = [TextExample(f"s{i}", None, str(i % 2)) for i in range(10)]
    path = tmp_path / "zh.tsv"
    path.write_text("text_a\tlabel\n" + "".join(f"z{i}\t{i % 2}\n" for i in range(10)))
    options = FinetuneOptions(max_train_examples=4, subset_seed=3,
                              extra_train_task="clue/chnsenticorp",
                              extra_train_split=str(path))
    spec, extra = extra_training(get_task("glue/sst2"), options)
    kept = subset(source, 4, 3)
    assert spec.name == "clue/chnsenticorp"
    assert [e.text_a[1:] for e in extra] == [e.text_a[1:] for e in kept]  # same indices
    assert extra_training(get_task("glue/sst2"), FinetuneOptions()) == (None, [])
    with pytest.raises(ConfigError, match=r"extra_train_task: clue/xnli_2way .* must have the "
                                          r"kind and labels of glue/sst2"):
        extra_training(get_task("glue/sst2"), FinetuneOptions(extra_train_task="clue/xnli_2way"))


class _Head(nn.Module):
    def forward(self, hidden, batch):
        return hidden[:, 0]  # (B, D)


class _Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, ids, mask, segments, positions=None, languages=None):
        self.seen = languages
        return SimpleNamespace(hidden=torch.zeros(*ids.shape, 2))  # (B, T, D)


def test_a_language_id_a_row_reaches_the_backbone():
    features = (with_language([{"ids": [5, 6, 7], "segments": [0, 0, 0], "label": 1}], 0)
                + with_language([{"ids": [5, 8], "segments": [0, 0], "label": 0}], 1))
    assert with_language(features, None) is features  # no language table: unchanged
    batch = collate(features, "classification", pad_id=0)
    assert batch["languages"].tolist() == [0, 1]
    model = FineTuneModel(_Backbone(), _Head())
    model.language = 0  # the task's language: replaced by the rows' own
    model.eval()(batch)
    assert model.backbone.seen.tolist() == [[0, 0, 0], [1, 1, 1]]  # (B, T)
    del batch["languages"]
    model(batch)
    assert model.backbone.seen.tolist() == [[0, 0, 0], [0, 0, 0]]
