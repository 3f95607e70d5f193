"""What a report is made of, found under one folder (or one run folder).

Recognised, wherever they sit below the folder (symbolic links are not followed):

* **run folders**: a ``metrics.jsonl`` (training and held-out losses by step), from
  ``lmlab train`` or ``lmlab finetune``;
* **comparisons**: a folder with ``table1.json`` and ``table2.json`` from ``lmlab compare``
  (the objectives' Tables 1–2);
* **LM tables**: a JSON list of rows with ``valid_perplexity`` (``lmlab demo``'s
  ``demo.json``, perplexity against parameters);
* **embedding benchmarks**: a JSON object with ``"benchmark": "word2vec"`` and a
  ``summary`` (``bench/word2vec.py``);
* **compression tables**: a JSON object with ``"kind": "compression"`` and ``rows``
  (``lmlab compare suites/compression``'s ``tables.json``, issue 20's Tables 6-7).

An unreadable metrics log or Table 1/2 is a one-line :class:`~lmlab.errors.DataError`
naming the file; other JSON files that do not parse or have another shape are not sources
and are skipped, as is everything inside checkpoints and tokenizer folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.errors import DataError

MAX_FILE_BYTES = 5_000_000
"""JSON files larger than this are not read (a report source is a summary, not data)."""
SKIPPED_FOLDERS = ("checkpoint", "tokenizer", "best", ".git")


@dataclass
class RunCurves:
    name: str
    train: list[tuple[int, float]]  # (step, loss)
    held_out: list[tuple[int, float]]  # (step, eval_loss)


@dataclass
class Comparison:
    name: str
    table1: dict
    table2: dict


@dataclass
class ReportSources:
    root: Path
    runs: list[RunCurves] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    lm_tables: list[tuple[str, list[dict]]] = field(default_factory=list)
    embedding_benches: list[tuple[str, dict]] = field(default_factory=list)
    compressions: list[tuple[str, list[dict]]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.runs or self.comparisons or self.lm_tables or self.embedding_benches
                    or self.compressions)


def collect(path: str | Path) -> ReportSources:
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder to report on")
    if root.is_file():
        raise DataError(f"{root}: give a run folder or a folder of runs and results, not a file")
    sources = ReportSources(root)
    for metrics in sorted(root.rglob("metrics.jsonl")):
        sources.runs.append(read_run_curves(metrics, _name(metrics.parent, root)))
    for table2 in sorted(root.rglob("table2.json")):
        table1 = table2.with_name("table1.json")
        if table1.exists():
            sources.comparisons.append(Comparison(_name(table2.parent, root),
                                                  _read_json(table1), _read_json(table2)))
    for candidate in sorted(root.rglob("*.json")):
        if (candidate.name in ("table1.json", "table2.json") or not candidate.is_file()
                or candidate.stat().st_size > MAX_FILE_BYTES
                or any(part.startswith(SKIPPED_FOLDERS) for part in
                       candidate.relative_to(root).parts[:-1])):
            continue
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, OSError):
            continue  # not a report source
        if isinstance(data, list) and data and all(
                isinstance(row, dict) and "valid_perplexity" in row for row in data):
            sources.lm_tables.append((_name(candidate, root), data))
        elif isinstance(data, dict) and data.get("benchmark") == "word2vec" \
                and isinstance(data.get("summary"), dict):
            sources.embedding_benches.append((_name(candidate, root), data["summary"]))
        elif isinstance(data, dict) and data.get("kind") == "compression" \
                and isinstance(data.get("rows"), list):
            sources.compressions.append((_name(candidate, root), data["rows"]))
    if sources.empty():
        raise DataError(f"{root}: nothing to report (no metrics.jsonl, table1/2.json from "
                        f"lmlab compare, demo.json, word2vec benchmark or compression tables JSON "
                        f"below it)")
    return sources


def read_run_curves(metrics: Path, name: str) -> RunCurves:
    """The (step, loss) and (step, eval_loss) points of a metrics log; a torn last line
    (a run killed mid-write) is skipped, any other unreadable line is an error."""
    train, held_out = [], []
    lines = _read_text(metrics).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            raise DataError(f"{metrics}:{number}: not a JSON object (a metrics log has one "
                            f"per line)") from None
        if not isinstance(record, dict) or "step" not in record:
            continue
        if isinstance(record.get("loss"), (int, float)):
            train.append((int(record["step"]), float(record["loss"])))
        if isinstance(record.get("eval_loss"), (int, float)):
            held_out.append((int(record["step"]), float(record["eval_loss"])))
    return RunCurves(name, train, held_out)


def _name(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return root.name if relative == "." else relative


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None


def _read_json(path: Path):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
