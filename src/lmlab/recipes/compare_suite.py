"""The suite file of ``lmlab compare`` (packaged ``suites/*.yaml``, or a path): typed and strict.

A suite names the presets to compare, the overrides that bring them to one size and one
corpus, the compute budget and the fine-tuning protocol. Its ``quick`` section holds the
values ``--quick`` swaps in (CI-sized); ``overrides`` there are added after the main ones,
``finetune`` keys replace single options, any other key replaces the main value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from lmlab.config import load_config, load_raw
from lmlab.errors import ConfigError, DataError
from lmlab.finetune.config import FinetuneOptions
from lmlab.presets import suite_path
from lmlab.tasks.catalogue import get_task, parse_split


@dataclass
class SuiteEntry:
    preset: str
    """A preset name (``bert/tiny``) or YAML path, resolved by :mod:`lmlab.presets`."""
    label: str = ""
    """Row name in the tables (default: the preset name)."""
    overrides: list[str] = field(default_factory=list)
    """``KEY=VALUE`` overrides of this row only, after the suite's (e.g. another objective
    on the same architecture: ``objectives=[{name: mass}]``)."""
    pooling: Literal["cls", "mean", "last"] | None = None
    """How this row's classifiers pool, if not the suite's ``finetune.pooling``: XLNet
    reads the last token (its [CLS] sees nothing special in a permutation LM)."""

    def validate(self, path: str) -> None:
        if not self.preset:
            raise ConfigError(f"{path}.preset: must name a preset, e.g. bert/tiny")
        self.label = self.label or self.preset


@dataclass
class TaskSplits:
    """Other splits for one task, e.g. where only a dev file is shipped: fine-tune on
    ``dev[:50%]`` and score on ``dev[50%:]`` (syntax: :func:`lmlab.tasks.catalogue.parse_split`)."""
    task: str = ""
    train: str = "train"
    dev: str = "dev"

    def validate(self, path: str) -> None:
        if not self.task:
            raise ConfigError(f"{path}.task: must name a task, e.g. clue/lcqmc")
        # A task the run leaves out (``--quick``, ``tasks=[...]``) keeps its entry unused,
        # but the name must be a task of the catalogue, so a typo is caught.
        try:
            get_task(self.task)
        except DataError as error:
            raise ConfigError(f"{path}.task: {error}") from None
        for key in ("train", "dev"):
            try:
                parse_split(getattr(self, key))
            except DataError as error:
                raise ConfigError(f"{path}.{key}: {error}") from None


@dataclass
class LexicalChecks:
    """Word-level measures of every pre-trained row (issue 21's knowledge suite): the
    WordNet lexical probe over ``probe_seeds`` splits, word similarity of the input
    embeddings, and SenseBERT's supersense accuracy (:mod:`lmlab.recipes.compare_lexical`)."""

    probe_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    test_fraction: float = 0.05
    similarity: list[Literal["simlex999", "wordsim353"]] = field(
        default_factory=lambda: ["simlex999", "wordsim353"])
    supersense_max_tokens: int = 20000
    """Held-out tokens read for supersense accuracy (0 = skip it)."""
    supersense_probe_tokens: int = 20000
    """Training-text tokens read by the supersense probe on every row's frozen states
    (:mod:`lmlab.evaluation.supersense_probe`; 0 = skip it)."""
    wordnet: str = ""
    """WordNet 3.0 folder ("" = $LMLAB_WORDNET or /usr/share/wordnet)."""

    def validate(self, path: str) -> None:
        if not self.probe_seeds:
            raise ConfigError(f"{path}.probe_seeds: list at least one seed")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"{path}.test_fraction: must be in (0, 1)")
        if self.supersense_max_tokens < 0:
            raise ConfigError(f"{path}.supersense_max_tokens: must be >= 0")
        if self.supersense_probe_tokens < 0:
            raise ConfigError(f"{path}.supersense_probe_tokens: must be >= 0")


@dataclass
class CompareSuite:
    name: str = "objectives"
    presets: list[SuiteEntry] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    """``KEY=VALUE`` overrides applied to every preset (size, corpus, batch, seq_len)."""
    budget_flops: float = 1.0e15
    """Training FLOPs of every pre-training run (forward + backward, counted on a batch)."""
    warmup_ratio: float = 0.1
    """Pre-training warmup as a fraction of each run's steps (same shape for every run)."""
    checkpoint_every: int = 200
    tasks: list[str] = field(default_factory=list)
    """Task names (``glue/sst2``); tasks without train and dev files are listed as missing."""
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)
    task_splits: list[TaskSplits] = field(default_factory=list)
    """Per-task train / dev splits instead of ``finetune``'s (default train / dev)."""
    verdict: list[str] = field(default_factory=list)
    """Two labels ``[baseline, challenger]``: shown first in Table 2 and compared in one line."""
    verdict_reference: str = ""
    """The published result the verdict tests, quoted in its line."""
    untrained: bool = True
    """Add the random-init row: the first preset's architecture, fine-tuned the same way."""
    bow: bool = True
    """Add the bag-of-words logistic-regression row."""
    lexical: LexicalChecks | None = None
    """Word-level measures of every pre-trained row (the knowledge suite); None = none."""

    def validate(self, path: str) -> None:
        if not self.presets:
            raise ConfigError(f"{path}.presets: list at least one preset")
        labels = [entry.label for entry in self.presets]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{path}.presets: labels must be unique, got {labels}")
        if self.budget_flops <= 0:
            raise ConfigError(f"{path}.budget_flops: must be > 0")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"{path}.warmup_ratio: must be in [0, 1)")
        if not self.tasks:
            raise ConfigError(f"{path}.tasks: list at least one task, e.g. glue/sst2")
        unknown = [label for label in self.verdict if label not in labels]
        if len(self.verdict) not in (0, 2) or unknown:
            raise ConfigError(f"{path}.verdict: two labels from presets ({', '.join(labels)})")


def row_options(options: FinetuneOptions, entry: SuiteEntry | None) -> FinetuneOptions:
    """A task's fine-tuning options for one row (its ``pooling``, if it sets one)."""
    if entry is None or entry.pooling is None:
        return options
    return dataclasses.replace(options, pooling=entry.pooling)


def task_options(suite: CompareSuite, task: str) -> FinetuneOptions:
    """The fine-tuning options of one task: the suite's, with its ``task_splits`` entry."""
    for entry in suite.task_splits:
        if entry.task == task:
            return dataclasses.replace(suite.finetune, train_split=entry.train, dev_split=entry.dev)
    return suite.finetune


def load_suite_file(name_or_path: str, schema, quick: bool = False,
                    suite_overrides: list[str] = (), special: dict | None = None):
    """A suite file (a path, or a packaged name: ``suites/objectives``, ``objectives``) read
    into the dataclass ``schema``. With ``quick`` its ``quick`` section goes in first: a
    mapping merges key by key into the main one, any other value replaces the main value,
    and a key of ``special`` is handled by ``special[key](raw, value)``. Then the
    ``KEY=VALUE`` ``suite_overrides`` (``finetune.seeds=[1,2]``, ``tasks=[glue/rte]``)."""
    path = suite_path(name_or_path)
    raw = load_raw(path)
    quick_raw = raw.pop("quick", None) or {}
    if not isinstance(quick_raw, dict):
        raise ConfigError(f"{path}: quick: expected a mapping")
    for key, value in quick_raw.items() if quick else ():
        if key in (special or {}):
            special[key](raw, value)
        elif isinstance(value, dict) and isinstance(raw.get(key) or {}, dict):
            raw[key] = {**(raw.get(key) or {}), **value}
        else:
            raw[key] = value
    return load_config(path, suite_overrides, raw=raw, schema=schema)


def _append_overrides(raw: dict, value) -> None:
    raw["overrides"] = list(raw.get("overrides") or []) + list(value)


def load_suite(name_or_path: str, quick: bool = False,
               suite_overrides: list[str] = ()) -> CompareSuite:
    """The objectives-kind suite; its quick ``overrides`` are added after the main ones."""
    return load_suite_file(name_or_path, CompareSuite, quick, suite_overrides,
                           special={"overrides": _append_overrides})
