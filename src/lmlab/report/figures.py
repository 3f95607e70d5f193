"""The report's plots: each a PNG (matplotlib, Agg backend) and the exact numbers drawn.

Every function returns a :class:`Figure` whose ``data`` holds the plotted values, so the
page can carry them beside the picture (and a test can check picture against source).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lmlab.report.sources import Comparison, RunCurves


@dataclass
class Figure:
    title: str
    png: bytes
    data: dict


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: no display, the same on every machine
    from matplotlib import pyplot
    return pyplot


def _finish(pyplot, figure, title: str, data: dict) -> Figure:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    pyplot.close(figure)
    return Figure(title, buffer.getvalue(), data)


def loss_curves(run: RunCurves) -> Figure:
    """Training loss (as logged) and held-out loss against the optimizer step."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(6.4, 3.6))
    if run.train:
        axes.plot(*zip(*run.train), label="training loss", linewidth=1)
    if run.held_out:
        axes.plot(*zip(*run.held_out), "o-", label="held-out loss", markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats)")
    axes.grid(alpha=0.3)
    axes.legend()
    title = f"Loss curves: {run.name}"
    axes.set_title(title, fontsize=10)
    return _finish(pyplot, figure, title, {"train": run.train, "held_out": run.held_out})


def table2_bars(comparison: Comparison) -> Figure:
    """GLUE/CLUE average per model, mean ± std over fine-tuning seeds (models whose
    average is missing, i.e. not every task ran, are left out)."""
    pyplot = _pyplot()
    rows = {label: row for label, row in comparison.table2.get("rows", {}).items()
            if row.get("average")}
    labels = list(rows)
    means = [rows[label]["average"]["mean"] for label in labels]
    stds = [rows[label]["average"].get("std") or 0.0 for label in labels]
    figure, axes = pyplot.subplots(figsize=(6.4, 3.6))
    axes.bar(range(len(labels)), means, yerr=stds, capsize=3, color="#4c72b0")
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_ylabel("average dev score")
    axes.grid(axis="y", alpha=0.3)
    title = f"Table 2 average (mean ± std over seeds): {comparison.name}"
    axes.set_title(title, fontsize=10)
    return _finish(pyplot, figure, title, {"labels": labels, "mean": means, "std": stds})


def perplexity_vs_parameters(name: str, rows: list[dict]) -> Figure:
    """An LM table's validation perplexity against parameters (log-log)."""
    pyplot = _pyplot()
    kept = [row for row in rows if row.get("parameters") and row.get("valid_perplexity")]
    labels = [row.get("model", row.get("preset", "?")) for row in kept]
    parameters = [row["parameters"] for row in kept]
    perplexity = [row["valid_perplexity"] for row in kept]
    figure, axes = pyplot.subplots(figsize=(6.4, 3.6))
    axes.scatter(parameters, perplexity)
    for label, x, y in zip(labels, parameters, perplexity):
        axes.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("parameters")
    axes.set_ylabel("validation perplexity")
    axes.grid(alpha=0.3, which="both")
    title = f"Perplexity vs parameters: {name}"
    axes.set_title(title, fontsize=10)
    return _finish(pyplot, figure, title, {"labels": labels, "parameters": parameters,
                                           "valid_perplexity": perplexity})


EMBEDDING_SCORES = ("wordsim353", "simlex999", "analogy")


def embedding_bars(name: str, summary: dict) -> Figure:
    """Word-embedding benchmark scores per set-up and implementation (lmlab vs gensim)."""
    pyplot = _pyplot()
    bars = [(f"{setup} {who}", score, result[score])
            for setup, by_who in summary.items() if isinstance(by_who, dict)
            for who, result in by_who.items() if isinstance(result, dict)
            for score in EMBEDDING_SCORES if isinstance(result.get(score), (int, float))]
    figure, axes = pyplot.subplots(figsize=(6.4, 3.6))
    for offset, score in enumerate(EMBEDDING_SCORES):
        chosen = [(label, value) for label, kind, value in bars if kind == score]
        positions = [index * 4 + offset for index in range(len(chosen))]
        axes.bar(positions, [value for _, value in chosen], label=score)
        if offset == 1:
            axes.set_xticks(positions, [label for label, _ in chosen], rotation=30,
                            ha="right", fontsize=7)
    axes.set_ylabel("score")
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    title = f"Word-embedding benchmarks: {name}"
    axes.set_title(title, fontsize=10)
    return _finish(pyplot, figure, title, {"bars": [list(bar) for bar in bars]})


def compression_tradeoff(name: str, rows: list[dict]) -> Figure:
    """Issue 20's trade-off: each compressed model's dev score as % of its teacher against
    the CPU speed-up at batch 32 (left) and against its size in MB (right), one marker
    per task."""
    pyplot = _pyplot()
    kept = [row for row in rows if all(isinstance(row.get(key), (int, float)) for key in
                                       ("percent_of_teacher", "speedup_b32", "size_mb"))]
    figure, (speed, size) = pyplot.subplots(1, 2, figsize=(9.6, 3.8), sharey=True)
    for task in dict.fromkeys(row["task"] for row in kept):
        chosen = [row for row in kept if row["task"] == task]
        speed.scatter([r["speedup_b32"] for r in chosen], [r["percent_of_teacher"] for r in chosen],
                      label=task)
        size.scatter([r["size_mb"] for r in chosen], [r["percent_of_teacher"] for r in chosen],
                     label=task)
        for row in chosen:
            for axes, x in ((speed, row["speedup_b32"]), (size, row["size_mb"])):
                axes.annotate(row["method"], (x, row["percent_of_teacher"]), fontsize=6,
                              xytext=(3, 3), textcoords="offset points")
    speed.set_xlabel("CPU speed-up over the teacher (batch 32)")
    speed.set_ylabel("dev score, % of teacher")
    size.set_xlabel("size (MB, compact encoding)")
    for axes in (speed, size):
        axes.grid(alpha=0.3)
    speed.legend(fontsize=7)
    title = f"Compression trade-off: {name}"
    figure.suptitle(title, fontsize=10)
    return _finish(pyplot, figure, title, {
        "labels": [row["method"] for row in kept], "tasks": [row["task"] for row in kept],
        "percent_of_teacher": [row["percent_of_teacher"] for row in kept],
        "speedup_b32": [row["speedup_b32"] for row in kept],
        "size_mb": [row["size_mb"] for row in kept]})
