"""``lmlab compare suites/feature_based``: the review's feature-based table (issue 19).

One task model (a BiLSTM; CRF tagger for NER, mean-pooled classifier for SST-2) with the
same hyper-parameters reads each source's frozen features: random embeddings, word2vec,
C&W, context2vec, ELMo (scalar mix / top layer) and a transformer fine-tuned on the task.
Every source is obtained inside the suite, or read from ``path``:

* ``wordvec``: trained with lmlab's word2vec / C&W trainer (``lmlab embed train``);
* ``pretrain``: a preset pre-trained for ``max_steps`` (and at most ``max_time_s``);
  entries with the same preset and overrides share one run (ELMo mix and top);
* ``finetune_first`` (transformer): the pre-trained run is first fine-tuned on the task
  with ``lmlab finetune``'s recipe; its score is the table's fine-tuning reference row.

Each unit has its own folder under ``--out`` and is skipped once finished, so an
interrupted compare continues. The table (Markdown + JSON) is rewritten after every unit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lmlab.atomic import write_json
from lmlab.config import load_config, load_raw
from lmlab.errors import ConfigError
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.feature_loop import FeatureTaskOptions
from lmlab.finetune.loop import finetune
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path, suite_path
from lmlab.recipes.compare_suite import load_suite_file
from lmlab.recipes.feature_based import SOURCE_KINDS, run_feature_based
from lmlab.tasks.catalogue import get_task
from lmlab.training.checkpoint import CHECKPOINT
from lmlab.training.trainer import train
from lmlab.wordvec.cw import CwConfig, train_cw_run
from lmlab.wordvec.runs import train_run
from lmlab.wordvec.word2vec import Word2VecConfig

KIND = "feature_based"
FINETUNE_REFERENCE = "fine-tuned end to end (reference)"


@dataclass
class WordvecSpec:
    """``lmlab embed train`` settings (word2vec: skipgram/cbow with negative sampling; cw)."""
    method: Literal["skipgram", "cbow", "cw"] = "skipgram"
    data: str = "wikitext-2"
    """Catalogue name (its train split) or a text file."""
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    epochs: int = 5
    max_seconds: float = 0.0
    """C&W: a time budget (0 = none)."""
    workers: int = 2
    seed: int = 1


@dataclass
class PretrainSpec:
    preset: str = ""
    overrides: list[str] = field(default_factory=list)
    max_steps: int = 1000
    max_time_s: float = 0.0
    """A wall-clock cap as well (0 = none); the steps actually run are reported."""


@dataclass
class SourceEntry:
    label: str = ""
    source: Literal["random", "vectors", "elmo", "context2vec", "transformer"] = "random"
    path: str = ""
    """An existing vectors file / run to read instead of obtaining it here."""
    wordvec: WordvecSpec | None = None
    pretrain: PretrainSpec | None = None
    finetune_first: bool = False
    """transformer: fine-tune the run on the task first, then freeze it."""
    feature_layers: Literal["mix", "top"] = "top"

    def validate(self, path: str) -> None:
        if not self.label:
            raise ConfigError(f"{path}.label: name the row")
        given = [bool(self.path), self.wordvec is not None, self.pretrain is not None]
        if self.source == "random" and any(given):
            raise ConfigError(f"{path}: a random source takes no path, wordvec or pretrain")
        if self.source != "random" and sum(given) != 1:
            raise ConfigError(f"{path}: a {self.source} source needs exactly one of path, "
                              f"wordvec (vectors) or pretrain (a preset)")
        if self.wordvec is not None and self.source != "vectors":
            raise ConfigError(f"{path}.wordvec: only a vectors source is trained by wordvec")
        if self.finetune_first and self.source != "transformer":
            raise ConfigError(f"{path}.finetune_first: only for a transformer source")


@dataclass
class FeatureSuite:
    name: str = "feature_based"
    kind: Literal["feature_based"] = "feature_based"
    sources: list[SourceEntry] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    task_model: FeatureTaskOptions = field(default_factory=FeatureTaskOptions)
    """The BiLSTM task model and its training, the same for every row."""
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)
    """The fine-tuning of ``finetune_first`` transformers (lmlab finetune's options)."""
    verdict: list[str] = field(default_factory=list)
    """[baseline, challenger] labels compared in one line (ELMo top vs mix)."""
    verdict_reference: str = ""

    def validate(self, path: str) -> None:
        labels = [entry.label for entry in self.sources]
        if not labels:
            raise ConfigError(f"{path}.sources: list at least one source")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{path}.sources: labels must be unique, got {labels}")
        if not self.tasks:
            raise ConfigError(f"{path}.tasks: list at least one task")
        if len(self.verdict) not in (0, 2) or any(v not in labels for v in self.verdict):
            raise ConfigError(f"{path}.verdict: two labels from sources ({', '.join(labels)})")


def is_feature_suite(name_or_path: str) -> bool:
    return load_raw(suite_path(name_or_path)).get("kind") == KIND


def load_feature_suite(name_or_path: str, quick: bool = False,
                       suite_overrides: list[str] = ()) -> FeatureSuite:
    """The suite file; its quick ``sources`` mapping (label -> fields) changes single
    sources."""
    return load_suite_file(name_or_path, FeatureSuite, quick, suite_overrides,
                           special={"sources": _quick_sources})


def _quick_sources(raw: dict, value: dict) -> None:
    for entry in raw.get("sources") or []:
        entry.update(value.get(entry.get("label"), {}))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def wordvec_unit(spec: WordvecSpec, folder: Path, log) -> Path:
    if (folder / "run.json").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted training restarts
    log(f"word vectors: {spec.method} on {spec.data}")
    if spec.method == "cw":
        config = CwConfig(vector_size=spec.vector_size, window=spec.window,
                          min_count=spec.min_count, epochs=spec.epochs, seed=spec.seed,
                          max_seconds=spec.max_seconds or None)
        train_cw_run([spec.data], folder, config)
    else:
        config = Word2VecConfig(method=spec.method, vector_size=spec.vector_size,
                                window=spec.window, min_count=spec.min_count,
                                epochs=spec.epochs, workers=spec.workers, seed=spec.seed)
        train_run([spec.data], folder, config)
    return folder


def pretrain_unit(spec: PretrainSpec, folder: Path, log) -> dict:
    done = _read(folder / "unit.json")
    if done is not None:
        return done
    overrides = list(spec.overrides) + [f"train.max_steps={spec.max_steps}",
                                        f"train.max_time_s={spec.max_time_s}",
                                        "train.progress=false"]
    config = load_config(preset_path(spec.preset), overrides)
    resume = (folder / CHECKPOINT).exists()
    if not resume:  # killed before its first checkpoint: nothing to continue
        shutil.rmtree(folder, ignore_errors=True)
    log(f"pre-train {spec.preset}: {spec.max_steps} steps{' (resuming)' if resume else ''}")
    result = train(None if resume else config, folder, resume=resume, log=lambda m: None)
    done = {"preset": spec.preset, "overrides": list(spec.overrides), "steps": result.steps,
            "final_loss": result.final_loss, "valid": result.valid,
            "train_seconds": result.train_seconds, "run_dir": str(folder)}
    write_json(folder / "unit.json", done)
    return done


def _pretrain_folder(out: Path, spec: PretrainSpec) -> Path:
    key = hashlib.sha256(repr((spec.preset, spec.overrides, spec.max_steps,
                               spec.max_time_s)).encode()).hexdigest()[:8]
    return out / "sources" / f"{_slug(spec.preset)}-{key}"


def source_path(entry: SourceEntry, out: Path, units: dict, log) -> str:
    """Where the entry's vectors / run are, obtaining them first when the suite trains them."""
    if entry.path:
        return entry.path
    if entry.wordvec is not None:
        folder = out / "sources" / _slug(entry.label)
        return str(wordvec_unit(entry.wordvec, folder, log))
    folder = _pretrain_folder(out, entry.pretrain)
    units[entry.label] = pretrain_unit(entry.pretrain, folder, log)
    return str(folder)


def _cell(result: dict | None) -> str:
    if result is None:
        return "—"
    score = result["scores"][result["metric"]]
    return f"{score['mean']:.2f} ± {score['std']:.2f}"


def write_table(out: Path, suite: FeatureSuite, rows: dict, units: dict) -> dict:
    tasks = suite.tasks
    header = "| Features | " + " | ".join(f"{t} ({get_task(t).metric})" for t in tasks) + \
        " | OOV rate (" + ", ".join(tasks) + ") |"
    lines = [f"# lmlab compare: {suite.name}", "", header,
             "|---|" + "---:|" * len(tasks) + "---|"]
    for label, results in rows.items():
        oov = ", ".join(f"{100 * r['oov']['oov_rate']:.1f}%" if r and "oov" in r else "—"
                        for r in (results.get(t) for t in tasks))
        lines.append(f"| {label} | " + " | ".join(_cell(results.get(t)) for t in tasks) +
                     f" | {oov} |")
    verdict = _verdict(suite, rows)
    if verdict:
        lines += ["", verdict]
    task_model = suite.task_model
    lines += ["", f"Task model: one BiLSTM ({task_model.hidden_size} per direction, dropout "
              f"{task_model.dropout}), Adam lr {task_model.lr}, {task_model.epochs} epochs, "
              f"batch {task_model.batch_size}, seeds {task_model.seeds}, train subset "
              f"{task_model.max_train_examples or 'all'}, scored on {task_model.dev_split}; best "
              f"dev epoch per seed, mean ± std."]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    table = {"suite": suite.name, "tasks": tasks, "verdict": verdict, "sources": units,
             "task_model": json.loads(json.dumps(task_model.__dict__)),
             "rows": {label: {t: (r and {"metric": r["metric"], "scores": r["scores"],
                                         "oov": r.get("oov"), "layers": r.get("layers"),
                                         "feature_layers": r.get("feature_layers"),
                                         "mix_weights": [run.get("mix_weights")
                                                         for run in r.get("runs", [])],
                                         "train_seconds_per_seed": r["train_seconds_per_seed"]})
                              for t, r in results.items()} for label, results in rows.items()}}
    write_json(out / "table.json", table)
    return table


def _verdict(suite: FeatureSuite, rows: dict) -> str:
    if not suite.verdict:
        return ""
    base, challenger = suite.verdict
    parts = []
    for task in suite.tasks:
        a, b = rows.get(base, {}).get(task), rows.get(challenger, {}).get(task)
        if a is None or b is None:
            continue
        sa, sb = a["scores"][a["metric"]], b["scores"][b["metric"]]
        gap, spread = sb["mean"] - sa["mean"], max(sa["std"], sb["std"])
        word = ("ahead" if gap > spread else "behind" if -gap > spread
                else "within the seed spread")
        if len(suite.task_model.seeds) < 2:
            word = "one seed: no spread to judge the gap by"
        parts.append(f"{task}: {challenger} {gap:+.2f} vs {base} ({word}; std {spread:.2f})")
    reference = f" Paper: {suite.verdict_reference}." if suite.verdict_reference else ""
    return ("Verdict: " + "; ".join(parts) + "." + reference) if parts else ""


def run_feature_compare(suite_name: str, out: str, quick: bool = False,
                        suite_overrides: list[str] = (), log=print,
                        overwrite: bool = False) -> dict:
    suite = load_feature_suite(suite_name, quick, suite_overrides)
    for task in suite.tasks:
        get_task(task)
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    rows: dict = {entry.label: {} for entry in suite.sources}
    units: dict = {}
    started = time.perf_counter()
    for index, entry in enumerate(suite.sources, 1):
        log(f"[{index}/{len(suite.sources)}] {entry.label} "
            f"({time.perf_counter() - started:.0f}s so far)")
        path = "" if entry.source == "random" else source_path(entry, out_dir, units, log)
        for task in suite.tasks:
            folder = out_dir / "tasks" / _slug(entry.label) / _slug(task)
            done = _read(folder / "results.json")
            if done is None:
                spec = path
                if entry.finetune_first:
                    spec = _finetuned(entry, path, task, suite, out_dir, rows, log)
                options = dataclasses.replace(suite.task_model,
                                              feature_layers=entry.feature_layers,
                                              progress=suite.task_model.progress)
                source = "random" if entry.source == "random" else f"{entry.source}:{spec}"
                log(f"features {entry.label} on {task}")
                done = run_feature_based(source, task, options, folder, "lmlab compare")
            elif entry.finetune_first:
                _finetuned(entry, path, task, suite, out_dir, rows, log)
            rows[entry.label][task] = done
            write_table(out_dir, suite, rows, units)
    table = write_table(out_dir, suite, rows, units)
    log(f"table: {out_dir / 'table.md'} ({time.perf_counter() - started:.0f}s)")
    return {"out": str(out_dir), "table": str(out_dir / "table.md"), "tasks": suite.tasks,
            "verdict": table["verdict"]}


def _finetuned(entry: SourceEntry, base: str, task: str, suite: FeatureSuite, out: Path,
               rows: dict, log) -> str:
    """Fine-tune ``base`` on ``task`` (once); its score becomes the reference row."""
    folder = out / "finetuned" / _slug(entry.label) / _slug(task)
    result = _read(folder / "results.json")
    if result is None:
        log(f"fine-tune {entry.label} on {task} first")
        options = dataclasses.replace(suite.finetune, progress=False,
                                      max_train_examples=suite.task_model.max_train_examples,
                                      subset_seed=suite.task_model.subset_seed,
                                      train_split=suite.task_model.train_split,
                                      dev_split=suite.task_model.dev_split)
        result = finetune(base, task, options, folder, command="lmlab compare", resume=True)
        shutil.rmtree(folder / "seeds", ignore_errors=True)
    reference = f"{entry.label}: {FINETUNE_REFERENCE}"
    rows.setdefault(reference, {})[task] = result
    return str(folder)


__all__ = ["FeatureSuite", "SOURCE_KINDS", "is_feature_suite", "load_feature_suite",
           "run_feature_compare"]
