"""The task catalogue: a plain dict from task names (``glue/sst2``) to :class:`TaskSpec`.

Read here and nowhere else (DESIGN §6.2). A spec says which files hold each split
(relative to the data directory, ``LMLAB_DATA``), which reader parses them, the task kind
(which head fine-tunes it) and the official metric. Files follow each dataset's public
layout; splits whose files are absent (GLUE MNLI/QQP, CLUE train sets here) simply show as
unavailable. Benchmarks: GLUE (Wang et al. 2019), CLUE (Xu et al. 2020), CoNLL-2003,
MSRA (Levow 2006), People's Daily, SQuAD v1.1, CMRC 2018, DRCD, RACE, C3.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Literal

from lmlab.data.catalogue import data_dir
from lmlab.errors import DataError
from lmlab.tasks.seq2seq_readers import read_headlines, read_parallel, seeded_split
from lmlab.tasks.structured_readers import read_c3, read_conll, read_race, read_squad
from lmlab.tasks.topic_readers import read_topics
from lmlab.tasks.tsv_readers import ColumnLayout, read_columns, read_xnli

_SLICED = re.compile(r"^(?P<split>[\w.-]+)\[(?P<start>\d*%?):(?P<stop>\d*%?)\]$")


def parse_split(split: str) -> tuple[str, str, str]:
    """``dev[:50%]`` -> ("dev", "", "50%"); ``train`` -> ("train", "", ""). The slice
    syntax of HF ``datasets`` (contiguous, in file order), bounds in examples or percent."""
    match = _SLICED.match(split)
    if match is None:
        if "[" in split:
            raise DataError(f"split {split!r}: expected NAME or NAME[START:STOP] with bounds "
                            f"in examples or percent, e.g. dev[:50%] or train[100:]")
        return split, "", ""
    return match["split"], match["start"], match["stop"]


def _bound(text: str, total: int, default: int) -> int:
    if not text:
        return default
    return total * int(text[:-1]) // 100 if text.endswith("%") else min(int(text), total)


def slice_examples(examples: list, start: str, stop: str) -> list:
    """The examples between two bounds of :func:`parse_split` (percent floors)."""
    total = len(examples)
    return examples[_bound(start, total, 0):_bound(stop, total, total)]


TaskKind = Literal["classification", "regression", "tagging", "span_qa", "multiple_choice",
                   "generation"]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: TaskKind
    metric: str
    """Key of ``evaluation.metrics.TASK_METRICS``; its first value is the headline."""
    files: dict[str, str]
    reader: Callable[[Path], list]
    test_reader: Callable[[Path], list] | None = None
    """GLUE test files have another layout (an index column, no label)."""
    language: Literal["en", "zh"] = "en"
    labels: tuple[str, ...] = ()
    """The public label set (classification); empty: the tags found in train."""
    column: str = ""
    """Short name used as the column header of benchmark tables."""
    from_text: Callable[[str], object] | None = None
    """Text-to-text tasks (:mod:`lmlab.tasks.text_to_text`): generated text -> label."""
    split_sizes: tuple[tuple[str, int], ...] = ()
    """A dataset published as one file (AG News here, the news-commentary sample): every
    split reads it and keeps its part of a fixed seeded partition of these sizes."""

    def path(self, split: str) -> Path:
        if _is_file_split(split):
            return Path(split)
        split = parse_split(split)[0]
        if split not in self.files:
            raise DataError(f"task {self.name} has no split {split!r} "
                            f"(splits: {', '.join(self.files)})")
        return data_dir() / self.files[split]

    def available(self, split: str) -> bool:
        if _is_file_split(split):
            return Path(split).is_file()
        split = parse_split(split)[0]
        if split not in self.files:
            return False
        path = str(self.path(split))
        return Path(path.split(".zip!")[0] + ".zip" if ".zip!" in path else path).exists()

    def read(self, split: str) -> list:
        """Every example of a split; ``dev[:50%]`` reads a contiguous part of one. A path
        to a file (``held_out/test.csv``) reads all of that file in the dataset's public
        format, e.g. a test set kept apart for independent evaluation."""
        if _is_file_split(split):
            if not Path(split).is_file():
                raise DataError(f"{split}: no such file (a split is a name "
                                f"({', '.join(self.files)}) or a file in {self.name}'s format)")
            return self.reader(Path(split))
        name, start, stop = parse_split(split)
        path = self.path(name)
        if not self.available(name):
            raise DataError(f"{self.name}/{name}: expected {path} (set LMLAB_DATA to the "
                            f"folder that holds it)")
        reader = self.test_reader if name.startswith("test") and self.test_reader else self.reader
        examples = reader(path)
        if self.split_sizes:
            examples = seeded_split(examples, name, dict(self.split_sizes))
        return slice_examples(examples, start, stop)


def _is_file_split(split: str) -> bool:
    """A split given as a file path rather than a name (``dev``, ``train[:10%]``)."""
    return "/" in split or Path(split).suffix in (".csv", ".tsv", ".txt", ".json")


def _tsv(text_a, text_b=None, label=None, header=True, delimiter="\t", regression=False):
    return partial(read_columns, layout=ColumnLayout(text_a, text_b, label, header, delimiter,
                                                     regression))


def _glue(folder: str, extra: dict | None = None) -> dict[str, str]:
    files = {"train": f"glue/{folder}/train.tsv", "dev": f"glue/{folder}/dev.tsv",
             "test": f"glue/{folder}/test.tsv"}
    return {**files, **(extra or {})}


BINARY = ("0", "1")
NLI3 = ("contradiction", "entailment", "neutral")
ENTAIL2 = ("entailment", "not_entailment")
XNLI_TO_RTE = {"entailment": "entailment", "neutral": "not_entailment",
               "contradiction": "not_entailment"}
"""XNLI's three labels collapsed to RTE's two (issue 24's zero-shot en -> zh: fine-tune on
RTE, score on XNLI-zh; neutral and contradiction both count as not entailed)."""


def _relabelled(reader: Callable[[Path], list], mapping: dict[str, str]) -> Callable[[Path], list]:
    """``reader`` with every label mapped through ``mapping`` (an unknown label is kept, so
    the label check names it)."""
    def read(path: Path) -> list:
        return [replace(e, label=mapping.get(e.label, e.label)) for e in reader(path)]
    return read


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in [
    TaskSpec("glue/cola", "classification", "mcc", _glue("CoLA"), _tsv(3, None, 1, header=False),
             _tsv("sentence"), labels=BINARY, column="CoLA"),
    TaskSpec("glue/sst2", "classification", "accuracy", _glue("SST-2"),
             _tsv("sentence", None, "label"), _tsv("sentence"), labels=BINARY, column="SST-2"),
    TaskSpec("glue/mrpc", "classification", "f1_accuracy", _glue("MRPC"),
             _tsv("#1 String", "#2 String", "Quality"), _tsv("#1 String", "#2 String"),
             labels=BINARY, column="MRPC"),
    TaskSpec("glue/stsb", "regression", "pearson_spearman", _glue("STS-B"),
             _tsv("sentence1", "sentence2", "score", regression=True),
             _tsv("sentence1", "sentence2"), column="STS-B"),
    TaskSpec("glue/qqp", "classification", "f1_accuracy", _glue("QQP"),
             _tsv("question1", "question2", "is_duplicate"), _tsv("question1", "question2"),
             labels=BINARY, column="QQP"),
    TaskSpec("glue/mnli", "classification", "accuracy",
             {"train": "glue/MNLI/train.tsv", "dev": "glue/MNLI/dev_matched.tsv",
              "dev_mismatched": "glue/MNLI/dev_mismatched.tsv",
              "test": "glue/MNLI/test_matched.tsv",
              "test_mismatched": "glue/MNLI/test_mismatched.tsv"},
             _tsv("sentence1", "sentence2", "gold_label"), _tsv("sentence1", "sentence2"),
             labels=NLI3, column="MNLI-m"),
    TaskSpec("glue/qnli", "classification", "accuracy", _glue("QNLI"),
             _tsv("question", "sentence", "label"), _tsv("question", "sentence"),
             labels=ENTAIL2, column="QNLI"),
    TaskSpec("glue/rte", "classification", "accuracy", _glue("RTE"),
             _tsv("sentence1", "sentence2", "label"), _tsv("sentence1", "sentence2"),
             labels=ENTAIL2, column="RTE"),
    TaskSpec("glue/wnli", "classification", "accuracy", _glue("WNLI"),
             _tsv("sentence1", "sentence2", "label"), _tsv("sentence1", "sentence2"),
             labels=BINARY, column="WNLI"),
    TaskSpec("clue/chnsenticorp", "classification", "accuracy",
             {s: f"chnsenticorp/{s}.tsv" for s in ("train", "dev", "test")},
             _tsv("text_a", None, "label"), language="zh", labels=BINARY,
             column="ChnSentiCorp"),
    TaskSpec("clue/lcqmc", "classification", "accuracy",
             {s: f"lcqmc_bq/LCQMC/{s}.txt" for s in ("train", "dev", "test")},
             _tsv(0, 1, 2, header=False), language="zh", labels=BINARY, column="LCQMC"),
    TaskSpec("clue/bq", "classification", "accuracy",
             {s: f"lcqmc_bq/BQ_corpus/{s}.csv" for s in ("train", "dev", "test")},
             _tsv("sentence1", "sentence2", "label", delimiter=","), language="zh",
             labels=BINARY, column="BQ"),
    TaskSpec("clue/xnli", "classification", "accuracy",
             {s: f"xnli_zh/{s}.tsv" for s in ("train", "dev", "test")},
             read_xnli, language="zh", labels=NLI3, column="XNLI"),
    TaskSpec("clue/xnli_2way", "classification", "accuracy",
             {s: f"xnli_zh/{s}.tsv" for s in ("train", "dev", "test")},
             _relabelled(read_xnli, XNLI_TO_RTE), language="zh",
             labels=ENTAIL2, column="XNLI-2"),
    TaskSpec("clue/thucnews", "classification", "accuracy",
             {s: f"thucnews_titles/{s}.txt" for s in ("train", "dev", "test")},
             _tsv(0, None, 1, header=False), language="zh",
             labels=tuple(str(i) for i in range(10)), column="THUCNews"),
    TaskSpec("clue/weibo", "classification", "accuracy",
             {s: f"weibo_senti_100k/{s}.csv" for s in ("train", "dev", "test")},
             _tsv(1, None, 0), language="zh", labels=BINARY, column="Weibo"),
    TaskSpec("ner/conll2003", "tagging", "entity_f1",
             {s: f"conll2003/{s}.txt" for s in ("train", "dev", "test")}, read_conll,
             column="CoNLL-2003"),
    TaskSpec("ner/msra", "tagging", "entity_f1",
             {"train": "ChineseNlpCorpus/dh_msra.zip!dh_msra.txt"}, read_conll, language="zh",
             column="MSRA"),
    TaskSpec("ner/peoples_daily", "tagging", "entity_f1",
             {"train": "peoples_daily_ner/zjy-ucas/example.train",
              "dev": "peoples_daily_ner/zjy-ucas/example.dev",
              "test": "peoples_daily_ner/zjy-ucas/example.test"}, read_conll, language="zh",
             column="PD-NER"),
    TaskSpec("qa/squad", "span_qa", "squad",
             {"train": "squad/train-v1.1.json", "dev": "squad/dev-v1.1.json"}, read_squad,
             column="SQuAD"),
    TaskSpec("qa/cmrc2018", "span_qa", "cmrc",
             {"train": "cmrc2018/cmrc2018_train.json", "dev": "cmrc2018/cmrc2018_dev.json",
              "trial": "cmrc2018/cmrc2018_trial.json"}, read_squad, language="zh",
             column="CMRC2018"),
    TaskSpec("qa/drcd", "span_qa", "cmrc",
             {"train": "drcd/DRCD_training.json", "dev": "drcd/DRCD_dev.json",
              "test": "drcd/DRCD_test.json"}, read_squad, language="zh", column="DRCD"),
    TaskSpec("mc/race", "multiple_choice", "accuracy",
             {"train": "race/train", "dev": "race/dev", "test": "race/test"}, read_race,
             column="RACE"),
    TaskSpec("mc/c3", "multiple_choice", "accuracy",
             {s: f"uer_py/datasets/c3/{s}.json" for s in ("train", "dev", "test")}, read_c3,
             language="zh", column="C3"),
    # The same file and seeded 6000/800/800 partition as gen/ag_news_headlines.
    TaskSpec("topic/ag_news", "classification", "accuracy",
             {s: "ag_news/test.csv" for s in ("train", "dev", "test")}, read_topics,
             labels=("0", "1", "2", "3"), column="AG News",
             split_sizes=(("train", 6000), ("dev", 800), ("test", 800))),
    TaskSpec("gen/ag_news_headlines", "generation", "rouge",
             {s: "ag_news/test.csv" for s in ("train", "dev", "test")}, read_headlines,
             column="AG-Headline", split_sizes=(("train", 6000), ("dev", 800), ("test", 800))),
    TaskSpec("gen/news_commentary_en_zh", "generation", "sacrebleu_zh",
             {s: "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"
              for s in ("train", "dev", "test")}, read_parallel, language="zh",
             column="en-zh", split_sizes=(("train", 799), ("dev", 100), ("test", 100))),
]}

SUITES: dict[str, tuple[str, ...]] = {
    "glue": ("glue/cola", "glue/sst2", "glue/mrpc", "glue/stsb", "glue/qqp", "glue/mnli",
             "glue/qnli", "glue/rte", "glue/wnli"),
    "clue": ("clue/chnsenticorp", "clue/lcqmc", "clue/bq", "clue/xnli", "clue/thucnews",
             "clue/weibo", "ner/msra", "ner/peoples_daily", "qa/cmrc2018", "qa/drcd", "mc/c3"),
    "english": ("ner/conll2003", "qa/squad", "mc/race"),
    "generation": ("gen/ag_news_headlines", "gen/news_commentary_en_zh"),
}


ALIASES: dict[str, str] = {"squad": "qa/squad"}
"""Other names of a task: ``lmlab evaluate RUN --task squad --data dev-v1.1.json``."""


def get_task(name: str) -> TaskSpec:
    name = ALIASES.get(name, name)
    if name in TASKS:
        return TASKS[name]
    close = difflib.get_close_matches(name, list(TASKS), n=3, cutoff=0.5)
    close += [t for t in TASKS if name and t.split("/")[-1] == name.split("/")[-1]
              and t not in close]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise DataError(f"unknown task {name!r}{hint} (tasks: {', '.join(TASKS)})")
