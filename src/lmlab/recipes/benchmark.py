"""``lmlab benchmark``: fine-tune a model on every available task of a suite and write the
review's Table 2 layout (models as rows, tasks as columns; Wang et al. 2020, Table 2) as
Markdown and JSON, with the bag-of-words floor as the first row.

A task is available when its train and dev files are present; the others are listed with
the file that is missing. Results are written after every task, so an interrupted
benchmark keeps what it finished.
"""

from __future__ import annotations

from pathlib import Path

from lmlab.atomic import write_json
from lmlab.errors import DataError
from lmlab.finetune.loop import finetune
from lmlab.finetune.task_data import subset
from lmlab.outputs import prepare_output_folder
from lmlab.recipes.benchmark_bow import bow_scores
from lmlab.report.markdown import markdown_table
from lmlab.tasks.catalogue import SUITES, get_task, parse_split


def split_available(names: list[str], options) -> tuple[list[str], dict[str, str]]:
    """(tasks whose train and dev files exist, {task: why not} for the others)."""
    available, missing = [], {}
    for name in names:
        spec = get_task(name)
        lacking = [s for s in (options.train_split, options.dev_split) if not spec.available(s)]
        if lacking:
            split = lacking[0]
            where = spec.path(split) if parse_split(split)[0] in spec.files else split
            missing[name] = f"no {split} file: {where}"
        else:
            available.append(name)
    return available, missing


def bow_result(name: str, options) -> dict:
    """The bag-of-words row's cell for one task, on the same train subset as the models."""
    spec = get_task(name)
    train = subset(spec.read(options.train_split), options.max_train_examples,
                   options.subset_seed)
    return bow_scores(spec, train, spec.read(options.dev_split))


def run_benchmark(suite: str, models: list[str], out: str, options, tasks: list[str] | None,
                  bow: bool = True, command: str = "", overwrite: bool = False) -> dict:
    """Fine-tune every model on every available task into ``out`` (continued when ``out``
    holds this benchmark already; replaced with ``overwrite``)."""
    if suite not in SUITES:
        raise DataError(f"unknown suite {suite!r} (suites: {', '.join(SUITES)})")
    names = list(tasks or SUITES[suite])
    available, missing = split_available(names, options)
    out_dir = prepare_output_folder(out, "benchmark", overwrite, resume=True)
    rows: dict[str, dict] = {}
    if bow:
        rows["BoW + logistic regression"] = {}
    for model in models:
        rows[model] = {}
    report = {"suite": suite, "tasks": names, "available": available, "missing": missing,
              "command": command, "rows": rows}
    for name in available:
        spec = get_task(name)
        if bow and spec.kind in ("classification", "regression"):
            rows["BoW + logistic regression"][name] = bow_result(name, options)
        for model in models:
            run_dir = out_dir / "runs" / Path(model.replace("hf:", "hf_")).name / name.replace("/", "_")
            result = finetune(model, name, options, run_dir, command, resume=True)
            rows[model][name] = {k: result[k] for k in ("scores", "train_seconds_per_seed",
                                                        "train_examples", "dev_examples")}
        write_json(out_dir / f"benchmark_{suite}.json", report)
        (out_dir / f"benchmark_{suite}.md").write_text(markdown_table(suite, rows, names, missing))
    write_json(out_dir / f"benchmark_{suite}.json", report)
    (out_dir / f"benchmark_{suite}.md").write_text(markdown_table(suite, rows, names, missing))
    return report
