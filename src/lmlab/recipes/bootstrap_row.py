"""The MultiFiT row of ``suites/crosslingual`` (Eisenschlos et al. 2019, "MultiFiT:
Efficient Multi-lingual Language Model Fine-tuning", §3.3, Table 5): cross-lingual
bootstrapping.

A monolingual target-language LM (``multifit/tiny``: a QRNN causal LM on Chinese subwords)
is pre-trained at the suite's FLOPs budget, then per seed

* **bootstrapped**: fine-tuned on the target task's training texts labelled by a zero-shot
  *teacher* (``lmlab finetune --pseudo-labels-from``, :mod:`lmlab.finetune.pseudo_labels`;
  the checkpoint is also chosen on teacher-labelled dev texts), then scored on the target
  split's gold labels;
* **supervised**: the same fine-tuning on the gold labels (the target-language ceiling).

The teacher is ``teacher`` (a fine-tuned classifier run on the source task) or, when empty,
the source-task run of the suite's best zero-shot row (its best seed): the paper's LASER
role played by the best cross-lingual model of the same suite run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from lmlab.errors import ConfigError
from lmlab.finetune.evaluate import evaluate_run
from lmlab.finetune.loop import finetune
from lmlab.recipes.zero_shot import _mean_std


@dataclass
class BootstrapRow:
    preset: str = ""
    """The monolingual target-language LM (``multifit/tiny``); empty = no such row."""
    label: str = "MultiFiT (bootstrapped)"
    overrides: list[str] = field(default_factory=list)
    """This row's own ``KEY=VALUE`` overrides; the suite's ``overrides`` (transformer sizes)
    are not applied to it."""
    teacher: str = ""
    """A fine-tuned classifier run on the source task; empty = the source-task run of the
    suite's best zero-shot row (its best seed)."""
    pooling: Literal["cls", "mean", "last"] = "last"
    """The QRNN reads left to right: the classifier reads its last state (Dai & Le 2015)."""
    schedule: Literal["linear", "one_cycle"] = "one_cycle"
    label_smoothing: float = 0.1
    lr: float | None = None
    """Fine-tuning rate of this row; None = the suite's ``finetune.lr``."""

    def validate(self, path: str) -> None:
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"{path}.label_smoothing: must be in [0, 1)")


def best_teacher(rows: list[dict], out_dir: Path, source: str) -> tuple[str, str, float]:
    """(teacher run, its label, its zero-shot score): the source-task run of the best
    zero-shot row, best seed (ties: the earlier row, the lower seed)."""
    scored = [row for row in rows if row.get("transfer", {}).get("zero_shot")]
    if not scored:
        raise ConfigError("bootstrap.teacher: no zero-shot row to take a teacher from; set "
                          "bootstrap.teacher to a fine-tuned classifier run")
    row = max(scored, key=lambda r: r["transfer"]["zero_shot"]["mean"])
    best = max(row["transfer"]["per_seed"], key=lambda s: s["zero_shot"])
    run = out_dir / "transfer" / row["slug"] / source.replace("/", "_") / f"seed-{best['seed']}"
    if not (run / "checkpoint").is_dir():
        raise ConfigError(f"bootstrap.teacher: {run} has no checkpoint (a suite run from "
                          f"before the bootstrapping row deleted it); rerun with --overwrite "
                          f"or set bootstrap.teacher")
    return str(run), f"{row['label']} seed {best['seed']}", float(best["zero_shot"])


def bootstrap_transfer(base: str, teacher: str, row: BootstrapRow, suite, folder: Path) -> dict:
    """Bootstrapped and supervised scores of ``base`` on ``suite.target`` (mean ± std over
    the suite's seeds), one JSON-ready dict."""
    options = replace(suite.finetune, pooling=row.pooling, schedule=row.schedule,
                      label_smoothing=row.label_smoothing, lr=row.lr or suite.finetune.lr)
    per_seed, pseudo = [], None
    for seed in options.seeds:
        one = replace(options, seeds=[seed])
        booted = folder / "bootstrapped" / f"seed-{seed}"
        result = finetune(base, suite.target, replace(one, pseudo_labels_from=teacher), booted,
                          "lmlab compare suites/crosslingual", overwrite=True)
        pseudo = result["pseudo_labels"]
        entry = {"seed": seed, "zero_shot": float(evaluate_run(
            str(booted), suite.target, suite.target_split)[result["metric"]])}
        if suite.supervised:
            gold = folder / "supervised" / f"seed-{seed}"
            finetune(base, suite.target, one, gold, "lmlab compare suites/crosslingual",
                     overwrite=True)
            entry["supervised"] = float(evaluate_run(
                str(gold), suite.target, suite.target_split)[result["metric"]])
        per_seed.append(entry)
    summary = {key: _mean_std([s[key] for s in per_seed])
               for key in ("zero_shot", "supervised") if key in per_seed[0]}
    metric = result["metric"]  # the teacher itself on the scored split: its zero-shot score
    summary["teacher_zero_shot"] = float(evaluate_run(teacher, suite.target,
                                                      suite.target_split)[metric])
    return {"base": base, "teacher": teacher, "pseudo_labels": json.loads(json.dumps(pseudo)),
            "target": f"{suite.target}/{suite.target_split}", **summary, "per_seed": per_seed}


def bootstrap_verdict(label: str, row: dict | None) -> str:
    """MultiFiT's claim (§4.3, Table 5): the bootstrapped model beats its zero-shot teacher."""
    if row is None or "teacher_zero_shot" not in row.get("transfer", {}):
        return ""
    student = row["transfer"]["zero_shot"]["mean"]
    teacher = row["transfer"]["teacher_zero_shot"]
    held = "holds" if student > teacher else "does not hold"
    return (f"Claim (Eisenschlos et al. 2019): a monolingual model fine-tuned on a zero-shot "
            f"teacher's pseudo-labels beats the teacher. {label} {student:.1f} vs teacher "
            f"({row['teacher_label']}) {teacher:.1f} zero-shot: the claim {held} here.")
