"""``lmlab report``: one self-contained HTML page (plots embedded as PNG) from the run
folders and results under a folder. It opens offline: no script, font or style is fetched.

Beside each plot the page carries the numbers drawn, as ``<script type="application/json"
class="plot-data">``, so what a picture shows can be checked against its source.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from lmlab.report.figures import (Figure, compression_tradeoff, embedding_bars, loss_curves,
                                  perplexity_vs_parameters, table2_bars)
from lmlab.report.sources import Comparison, collect

MAX_RUN_PLOTS = 60
"""Loss curves drawn at most (a folder of hundreds of runs would make a page nobody reads)."""

STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:right}th:first-child,td:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.85em;color:#555}
.note{color:#555;font-size:.9em}"""


def build_report(path: str | Path) -> str:
    """The HTML page for everything :func:`~lmlab.report.sources.collect` finds under ``path``."""
    sources = collect(path)
    parts = [f"<h1>lmlab report: {_text(sources.root.name)}</h1>",
             f"<p class='note'>{_text(str(sources.root.resolve()))} · "
             f"{len(sources.runs)} run(s), {len(sources.comparisons)} comparison(s), "
             f"{len(sources.lm_tables)} LM table(s), {len(sources.embedding_benches)} "
             f"embedding benchmark(s), {len(sources.compressions)} compression table(s)</p>"]
    for comparison in sources.comparisons:
        parts += _comparison_section(comparison)
    for name, rows in sources.lm_tables:
        parts += [f"<h2>Language models: {_text(name)}</h2>", _lm_table(rows),
                  _figure(perplexity_vs_parameters(name, rows))]
    for name, summary in sources.embedding_benches:
        parts += [f"<h2>Word embeddings: {_text(name)}</h2>", _figure(embedding_bars(name, summary))]
    for name, rows in sources.compressions:
        parts += [f"<h2>Compression: {_text(name)}</h2>", _compression_table(rows),
                  _figure(compression_tradeoff(name, rows))]
    if sources.runs:
        parts.append("<h2>Runs</h2>")
        shown = sources.runs[:MAX_RUN_PLOTS]
        parts += [_figure(loss_curves(run)) for run in shown if run.train or run.held_out]
        if len(sources.runs) > len(shown):
            parts.append(f"<p class='note'>{len(sources.runs) - len(shown)} more run(s) not "
                         f"drawn (at most {MAX_RUN_PLOTS}).</p>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>lmlab report: {_text(sources.root.name)}</title><style>{STYLE}</style>"
            "</head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _comparison_section(comparison: Comparison) -> list[str]:
    table2 = comparison.table2
    parts = [f"<h2>Objectives comparison: {_text(comparison.name)}</h2>"]
    if table2.get("verdict"):
        parts.append(f"<p>{_text(table2['verdict'])}</p>")
    tasks = table2.get("tasks", [])
    header = ["Model", "Average"] + tasks
    rows = []
    for label, row in table2.get("rows", {}).items():
        average = row.get("average")  # None while a task is missing
        cells = [label, _mean_std(average["mean"], average.get("std")) if average else "—"]
        for task in tasks:
            scores = row.get("tasks", {}).get(task, {}).get("scores", {})
            score = next(iter(scores.values()), None)  # the task's headline metric comes first
            cells.append(_mean_std(score["mean"], score.get("std")) if score else "—")
        rows.append(cells)
    parts += [_table(header, rows), _figure(table2_bars(comparison)),
              "<p>Table 1: the pre-trained models</p>", _table1(comparison.table1)]
    return parts


def _table1(table1: dict) -> str:
    header = ["Model", "Objectives", "Params", "GFLOPs/step", "Steps", "Held-out loss",
              "Time (s)"]
    rows = [[row.get("label", "?"), row.get("objectives", ""),
             f"{(row.get('params_total') or 0) / 1e6:.2f} M",
             _number(row["flops_per_step"] / 1e9 if row.get("flops_per_step") else None, 1),
             f"{row.get('steps') or 0:,}", _number(row.get("valid_loss"), 3),
             _number(row.get("train_seconds"), 0)] for row in table1.get("rows", [])]
    return _table(header, rows)


def _compression_table(rows: list[dict]) -> str:
    """Issue 20's Table 7: score, share of the teacher, size and CPU speed per model."""
    return _table(["method", "task", "dev score", "% of teacher", "size (MB)",
                   "latency b1 (ms)", "throughput b32 (sent/s)", "speed-up b32"],
                  [[str(row.get("method", "")), str(row.get("task", "")),
                    _number(row.get("score")), _number(row.get("percent_of_teacher"), 1),
                    _number(row.get("size_mb"), 1), _number(row.get("latency_ms_b1")),
                    _number(row.get("throughput_b32"), 1), _number(row.get("speedup_b32"))]
                   for row in rows])


def _lm_table(rows: list[dict]) -> str:
    header = ["Model", "Parameters", "Valid perplexity", "Test perplexity", "Train (s)"]
    body = [[row.get("model", "?"), f"{row.get('parameters') or 0:,}",
             _number(row.get("valid_perplexity")), _number(row.get("test_perplexity")),
             _number(row.get("train_seconds"), 1)] for row in rows]
    return _table(header, body)


def _figure(figure: Figure) -> str:
    picture = base64.b64encode(figure.png).decode("ascii")
    data = json.dumps({"title": figure.title, **figure.data}).replace("</", "<\\/")
    return (f"<figure><img alt='{_text(figure.title)}' src='data:image/png;base64,{picture}'>"
            f"<figcaption>{_text(figure.title)}</figcaption>"
            f"<script type='application/json' class='plot-data'>{data}</script></figure>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_text(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mean_std(mean, std) -> str:
    return f"{mean:.1f}" + (f" ± {std:.1f}" if std else "")


def _number(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _text(value: str) -> str:
    return html.escape(str(value), quote=True)
