"""Unicoder's multi-language fine-tuning (Huang et al. 2019 §3.5): fine-tune on the
source-language training set and its translation into the target language together.
``FinetuneOptions.extra_train_task`` / ``extra_train_split`` name the second set (a task in
the target language with the same labels); each example keeps its own task's language id
(XLM-style backbones, Lample & Conneau 2019 §3.1), so a batch mixes language ids row by row.
"""

from __future__ import annotations

from lmlab.errors import ConfigError
from lmlab.finetune import task_data
from lmlab.tasks.catalogue import get_task


def extra_training(spec, options) -> tuple[object | None, list]:
    """(the extra task's spec, its training examples: the same ``max_train_examples`` /
    ``subset_seed`` subset as the main split, so a translation file aligned line by line
    with the source keeps the translations of the same examples); (None, []) without one."""
    if not options.extra_train_task:
        return None, []
    extra = get_task(options.extra_train_task)
    if extra.kind != spec.kind or set(extra.labels) != set(spec.labels):
        raise ConfigError(f"finetune.extra_train_task: {extra.name} ({extra.kind}, labels "
                          f"{list(extra.labels)}) must have the kind and labels of {spec.name} "
                          f"({spec.kind}, labels {list(spec.labels)})")
    return extra, task_data.subset(extra.read(options.extra_train_split),
                                   options.max_train_examples, options.subset_seed)


def with_language(features: list[dict], language: int | None) -> list[dict]:
    """``features`` with ``language`` (an id of the backbone's language table) on each;
    unchanged for a backbone without language embeddings (None)."""
    if language is None:
        return features
    return [{**feature, "language": language} for feature in features]
