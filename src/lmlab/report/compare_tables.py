"""The objective comparison as the review's Tables 1–2 (Wang et al. 2020): Markdown + JSON.

Table 1: one row per pre-trained model (structure, objectives, parameters, FLOPs per
step, steps and pre-training loss/time at the shared compute budget). Table 2: dev scores
per task, mean ± std over fine-tuning seeds, the average over tasks with its spread over
seeds, and a one-line verdict on the suite's pair (e.g. ELECTRA vs BERT, Clark et al.
2020: ELECTRA-Small 79.9 vs BERT-Small 75.1 GLUE at equal compute).
"""

from __future__ import annotations

import math
import statistics

from lmlab.evaluation.metrics import headline
from lmlab.report.markdown import markdown_table

TABLE1_COLUMNS = ("Model", "Preset", "Structure", "Objectives", "Params (encoder / pre-training)",
                  "GFLOPs/step", "Steps", "Tokens", "Train loss", "Valid loss", "Valid ppl",
                  "Time (s)")


def _number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table1_markdown(units: list[dict], budget_flops: float) -> str:
    lines = ["# Table 1: pre-trained models at equal compute", "",
             "| " + " | ".join(TABLE1_COLUMNS) + " |", "|" + "---|" * len(TABLE1_COLUMNS)]
    for unit in units:
        cells = [unit["label"], unit["preset"], unit["structure"], unit["objectives"],
                 f"{unit['params_encoder'] / 1e6:.2f}M / {unit['params_total'] / 1e6:.2f}M",
                 _number(unit["flops_per_step"] and unit["flops_per_step"] / 1e9, 1),
                 str(unit["steps"]), f"{unit['tokens'] / 1e6:.2f}M",
                 _number(unit["final_loss"]), _number(unit["valid_loss"]),
                 _number(unit["valid_loss"] and math.exp(unit["valid_loss"]), 1),
                 _number(unit["train_seconds"], 0)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Equal compute: every run trains for the same budget of {budget_flops:.3g} "
              "training FLOPs. FLOPs per step are counted with "
              "`torch.utils.flop_counter.FlopCounterMode` over the forward and backward pass of "
              "one real batch (matrix products and attention; ELECTRA's generator included, "
              "MLM heads project only the masked positions); steps = budget / FLOPs per step. "
              "Losses are each objective's own and are not comparable across rows (ELECTRA: "
              "generator MLM + 50 × replaced-token detection); valid loss is the training "
              "loop's held-out evaluation (masked-token loss for MLM-style models, the "
              "decoder's loss under fixed noise for encoder–decoders: exp of it is the "
              "denoising perplexity, Valid ppl). Params: "
              "embedding + encoder (what fine-tuning keeps) / everything trained in "
              "pre-training (heads, ELECTRA's generator)."]
    return "\n".join(lines) + "\n"


def seed_average(results: dict[str, dict], tasks: list[str]) -> dict | None:
    """Mean over ``tasks`` of the headline score, per seed; then mean ± std over seeds."""
    done = [results[t] for t in tasks if results.get(t)]
    if not done or len(done) < len(tasks) or any("runs" not in r for r in done):
        return None
    per_seed: dict[int, list[float]] = {}
    for result in done:
        for run in result["runs"]:
            per_seed.setdefault(run["seed"], []).append(headline(run["best"]))
    averages = [statistics.fmean(v) for v in per_seed.values() if len(v) == len(tasks)]
    if not averages:
        return None
    return {"mean": statistics.fmean(averages),
            "std": statistics.stdev(averages) if len(averages) > 1 else 0.0,
            "seeds": len(averages)}


def verdict_line(rows: dict[str, dict], tasks: list[str], pair: list[str], reference: str = "",
                 floor: str | None = None) -> str:
    """One line: does the challenger beat the baseline beyond the seeds' spread, and is
    either above the ``floor`` row (the untrained encoder) at all?"""
    baseline, challenger = pair
    a, b = seed_average(rows.get(baseline, {}), tasks), seed_average(rows.get(challenger, {}), tasks)
    if a is None or b is None:
        return f"Verdict ({challenger} vs {baseline}): not available yet (runs unfinished)."
    gap = b["mean"] - a["mean"]
    spread = a["std"] + b["std"]
    if min(a["seeds"], b["seeds"]) < 2:
        judged = "one fine-tuning seed, so no spread to judge the gap against"
    elif abs(gap) > spread:
        judged = (f"{challenger if gap > 0 else baseline} is ahead by more than the seeds' "
                  f"spread (std sum {spread:.1f})")
    else:
        judged = f"the gap is within the seeds' spread (std sum {spread:.1f}): no winner here"
    base = seed_average(rows.get(floor, {}), tasks) if floor else None
    if base is not None and max(a["mean"], b["mean"]) <= base["mean"] + base["std"] + spread:
        judged += (f"; but neither is clearly above the untrained encoder ({base['mean']:.1f} ± "
                   f"{base['std']:.1f}): pre-training too short to test the claim")
    cited = f"; {reference}" if reference else ""
    return (f"Verdict ({challenger} vs {baseline} at equal training FLOPs{cited}): average "
            f"{b['mean']:.1f} ± {b['std']:.1f} vs {a['mean']:.1f} ± {a['std']:.1f} over "
            f"{min(a['seeds'], b['seeds'])} seed(s), gap {gap:+.1f}; {judged}.")


def table2_markdown(rows: dict[str, dict], tasks: list[str], missing: dict, verdict: str,
                    splits: dict[str, tuple[str, str]] | None = None) -> str:
    """``splits``: {task: (train split, dev split)} for tasks not trained on train / scored
    on dev, named under the table."""
    averages = {}
    for label, results in rows.items():
        average = seed_average(results, tasks)
        if average is not None:
            averages[label] = f"{average['mean']:.1f}±{average['std']:.1f}"
    body = markdown_table("compare", rows, tasks, missing,
                          title="# Table 2: dev scores after fine-tuning", averages=averages)
    head = [verdict, ""] if verdict else []
    note = ("\nAvg with ± is the mean over tasks of each seed's headline score, then mean ± "
            "std over seeds (rows without it: unfinished tasks, or floors with no seeds).\n")
    for task, (train, dev) in (splits or {}).items():
        note += f"\n{task}: fine-tuned on `{train}`, scored on `{dev}`.\n"
    title, rest = body.split("\n", 1)
    return "\n".join([title, "", *head]) + rest + note


def table2_json(rows: dict[str, dict], tasks: list[str], missing: dict, verdict: str) -> dict:
    return {"tasks": tasks, "missing": missing, "verdict": verdict,
            "rows": {label: {"average": seed_average(results, tasks),
                             "tasks": {t: {k: r[k] for k in ("scores", "train_examples",
                                                             "dev_examples") if k in r}
                                       for t, r in results.items()}}
                     for label, results in rows.items()}}

