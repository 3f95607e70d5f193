"""Zero-shot cross-lingual transfer (review §5.4; mBERT: Pires et al. 2019; XLM: Lample &
Conneau 2019 §5.2; XLM-R: Conneau et al. 2020 §5.1): fine-tune a multilingual run on a
task in one language, pick the checkpoint on that language's dev split, and score it
unchanged on the same task in another language.

Per seed: ``lmlab finetune BASE --task SOURCE --seeds s`` into ``out/<source>/seed-s``
(its best evaluation on SOURCE's dev split is kept), then ``lmlab evaluate`` of that run
on SOURCE's dev and on TARGET's split. With ``supervised``, also the target-language
ceiling: the same fine-tuning on TARGET's own train split, scored on TARGET's split.
Source and target must share the label set: ``glue/sst2 -> clue/chnsenticorp`` (0/1
sentiment) and ``glue/rte -> clue/xnli_2way`` (XNLI collapsed to entailment /
not_entailment, :data:`lmlab.tasks.catalogue.XNLI_TO_RTE`).
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


def _score(result: dict, metric: str) -> float:
    return float(result[metric])


def _mean_std(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.pstdev(values), 2) if len(values) > 1 else 0.0}


def zero_shot(base: str, source: str, target: str, options: FinetuneOptions, out: str | Path,
              target_split: str = "dev", supervised: bool = False, overwrite: bool = False,
              command: str = "") -> dict:
    """Scores (mean ± std over ``options.seeds``) of ``base`` fine-tuned on ``source``:
    on source dev (``source_dev``), zero-shot on ``target``'s ``target_split``, and with ``supervised``
    fine-tuned on ``target`` itself. One JSON-ready dict."""
    source_spec, target_spec = get_task(source), get_task(target)
    if source_spec.kind != "classification" or target_spec.kind != "classification":
        raise ConfigError(f"zero-shot transfer: {source} -> {target}: both tasks must be "
                          f"classification tasks")
    if set(source_spec.labels) != set(target_spec.labels):
        raise ConfigError(f"zero-shot transfer: {source} labels {list(source_spec.labels)} "
                          f"differ from {target} labels {list(target_spec.labels)}")
    metric, out = target_spec.metric, Path(out)
    rows = []
    for seed in options.seeds:
        one = replace(options, seeds=[seed])
        transfer = out / source.replace("/", "_") / f"seed-{seed}"
        finetune(base, source, one, transfer, command, overwrite=overwrite)
        row = {"seed": seed,
               "source_dev": _score(evaluate_run(str(transfer), source, one.dev_split), metric),
               "zero_shot": _score(evaluate_run(str(transfer), target, target_split), metric)}
        if supervised:
            ceiling = out / target.replace("/", "_") / f"seed-{seed}"
            finetune(base, target, one, ceiling, command, overwrite=overwrite)
            row["supervised"] = _score(evaluate_run(str(ceiling), target, target_split), metric)
        rows.append(row)
    summary = {key: _mean_std([row[key] for row in rows])
               for key in ("source_dev", "zero_shot", "supervised") if key in rows[0]}
    return {"base": str(base), "source": source, "target": f"{target}/{target_split}",
            "metric": metric, "max_train_examples": options.max_train_examples,
            "seeds": list(options.seeds), **summary, "per_seed": rows}
