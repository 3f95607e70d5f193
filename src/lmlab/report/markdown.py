"""The review's Table 2 layout as Markdown (Wang et al. 2020, Table 2): models as rows,
tasks as columns, dev scores as mean±std over seeds and an Avg column."""

from __future__ import annotations

from lmlab.tasks.catalogue import get_task


def _cell(result: dict | None) -> str:
    if not result:
        return "—"
    parts = []
    for value in result["scores"].values():
        std = f"±{value['std']:.1f}" if value["std"] else ""
        parts.append(f"{value['mean']:.1f}{std}")
    return "/".join(parts)


def markdown_table(suite: str, rows: dict[str, dict], tasks: list[str], missing: dict,
                   title: str = "", averages: dict[str, str] | None = None) -> str:
    """``averages`` replaces the Avg cell of the rows it names (e.g. mean ± std over seeds)."""
    specs = [get_task(t) for t in tasks]
    header = ["Model"] + [f"{s.column} ({'/'.join(_metric_names(s))})" for s in specs] + ["Avg"]
    lines = [title or f"# {suite.upper()} dev results", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, results in rows.items():
        headlines = [next(iter(results[t]["scores"].values()))["mean"]
                     for t in tasks if results.get(t)]
        average = f"{sum(headlines) / len(headlines):.1f}" if headlines else "—"
        average = (averages or {}).get(model, average)
        lines.append("| " + " | ".join([model] + [_cell(results.get(t)) for t in tasks]
                                       + [average]) + " |")
    lines += ["", "Scores are percentages on the dev split, mean±std over seeds; Avg is the "
              "mean of the first metric of each available task."]
    for task, reason in missing.items():
        lines.append(f"- {task}: not run ({reason})")
    return "\n".join(lines) + "\n"


def _metric_names(spec) -> list[str]:
    return {"mcc": ["MCC"], "accuracy": ["Acc"], "f1_accuracy": ["F1", "Acc"],
            "pearson_spearman": ["Spearman", "Pearson"], "entity_f1": ["F1", "P", "R"],
            "squad": ["F1", "EM"], "cmrc": ["F1", "EM"], "rouge": ["R-L", "R-1", "R-2"],
            "sacrebleu_zh": ["BLEU", "chrF"]}[spec.metric]
