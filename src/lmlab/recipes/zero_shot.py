"""Zero-shot cross-lingual transfer (review §5.4; mBERT: Pires et al. 2019; XLM: Lample &
Conneau 2019 §5.2; XLM-R: Conneau et al. 2020 §5.1): fine-tune a multilingual run on a
task in one language, pick the checkpoint on that language's dev split, and score it
unchanged on the same task in another language.

Per seed: ``lmlab finetune BASE --task SOURCE --seeds s`` into ``out/<source>/seed-s``
(its best evaluation on SOURCE's dev split is kept), then ``lmlab evaluate`` of that run
on SOURCE's dev and on TARGET's split (a split name or a file in TARGET's format). With
``supervised``, also the target-language ceiling: the same fine-tuning on TARGET's own
train split, scored on TARGET's split. Source and target must be of one kind and, for
classification, share the label set: ``glue/sst2 -> clue/chnsenticorp`` (0/1 sentiment),
``glue/rte -> clue/xnli_2way`` (XNLI collapsed to entailment / not_entailment,
:data:`lmlab.tasks.catalogue.XNLI_TO_RTE`), ``qa/cmrc2018 -> qa/squad`` (span QA, F1).

With ``translated`` (the source's train and dev sets translated into TARGET's format,
:mod:`lmlab.recipes.translate_train`), two more settings a seed:

* ``translate_train`` — the translate-train baseline (Conneau et al. 2018, XNLI §4.2):
  fine-tune on the translated train set, select on the translated dev set, score on TARGET;
* ``multi_language`` — Unicoder's multi-language fine-tuning (Huang et al. 2019 §3.5):
  fine-tune on the source train set and its translation together (each example with its
  own language id, ``FinetuneOptions.extra_train_task``), select on SOURCE's dev split,
  score on TARGET.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.evaluate import evaluate_run
from lmlab.finetune.loop import finetune
from lmlab.tasks.catalogue import get_task

HEADLINE = {"squad": "f1", "cmrc": "f1"}
"""The score a metric reports under (span QA: F1)."""


def _score(result: dict, metric: str) -> float:
    return float(result[HEADLINE.get(metric, metric)])


def _mean_std(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.pstdev(values), 2) if len(values) > 1 else 0.0}


def check_pair(source: str, target: str) -> None:
    """Source and target can be transferred between: one kind (classification or span
    QA), and for classification the same labels."""
    source_spec, target_spec = get_task(source), get_task(target)
    if source_spec.kind != target_spec.kind or source_spec.kind not in ("classification",
                                                                        "span_qa"):
        raise ConfigError(f"zero-shot transfer: {source} -> {target}: both tasks must be "
                          f"classification tasks (or both span QA)")
    if set(source_spec.labels) != set(target_spec.labels):
        raise ConfigError(f"zero-shot transfer: {source} labels {list(source_spec.labels)} "
                          f"differ from {target} labels {list(target_spec.labels)}")


def zero_shot(base: str, source: str, target: str, options: FinetuneOptions, out: str | Path,
              target_split: str = "dev", supervised: bool = False, overwrite: bool = False,
              command: str = "", source_options: dict | None = None,
              translated: tuple[str, str] | None = None, translate_train: bool = False,
              multi_language: bool = False) -> dict:
    """Scores (mean ± std over ``options.seeds``) of ``base`` fine-tuned on ``source``:
    on source dev (``source_dev``), zero-shot on ``target``'s ``target_split``, and with
    ``supervised`` fine-tuned on ``target`` itself; ``source_options``: options of the
    source fine-tunings only (``{train_split: trial}``); ``translated``: (train file, dev
    file) of the source translated into ``target``'s format, read by ``translate_train``
    and ``multi_language``. One JSON-ready dict."""
    check_pair(source, target)
    if (translate_train or multi_language) and translated is None:
        raise ConfigError("zero-shot transfer: translate_train / multi_language need the "
                          "translated training files")
    metric, out = get_task(target).metric, Path(out)
    rows = []
    for seed in options.seeds:
        one = replace(options, seeds=[seed])
        on_source = replace(one, **(source_options or {}))
        transfer = out / source.replace("/", "_") / f"seed-{seed}"
        finetune(base, source, on_source, transfer, command, overwrite=overwrite)
        row = {"seed": seed,
               "source_dev": _score(evaluate_run(str(transfer), source, on_source.dev_split),
                                    metric),
               "zero_shot": _score(evaluate_run(str(transfer), target, target_split), metric)}
        runs = {}
        if supervised:
            runs["supervised"] = (target, one)
        if translate_train:
            runs["translate_train"] = (target, replace(one, train_split=translated[0],
                                                       dev_split=translated[1]))
        if multi_language:
            runs["multi_language"] = (source, replace(on_source, extra_train_task=target,
                                                      extra_train_split=translated[0]))
        for key, (task, settings) in runs.items():
            folder = out / key / f"seed-{seed}"
            finetune(base, task, settings, folder, command, overwrite=overwrite)
            row[key] = _score(evaluate_run(str(folder), target, target_split), metric)
        rows.append(row)
    summary = {key: _mean_std([row[key] for row in rows]) for key in rows[0] if key != "seed"}
    return {"base": str(base), "source": source, "target": f"{target}/{target_split}",
            "metric": HEADLINE.get(metric, metric),
            "max_train_examples": options.max_train_examples,
            "seeds": list(options.seeds), **summary, "per_seed": rows}
