"""``lmlab compare suites/multimodal``: the review's Table 8 (§5.3) made runnable (issue 22).

Every preset of the suite is pre-trained (emoji pairs + easy-VQA train pictures with their
questions) for the same number of steps at the same batch size, then fine-tuned on
easy-VQA; two baselines are fine-tuned from scratch with the first preset's model: the
question only (every picture white) and the image only (every question empty). The table
keeps the review's descriptive columns (architecture, streams, pre-training tasks) and
adds the backbone's parameter count and the measured easy-VQA dev accuracy (overall,
yes/no, other; mean ± std over seeds), scored by ``lmlab evaluate``'s code. A model counts
only if it beats both baselines. Equal steps × batch, not equal FLOPs: the two-stream
models cost more per step (``bench/multimodal_speed.py``).

Re-running the same command continues: finished runs are skipped (their ``result.json``),
an interrupted one resumes from its checkpoint.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.config import load_raw
from lmlab.multimodal.evaluate import evaluate_vqa
from lmlab.multimodal.models import MultimodalConfig, build_multimodal
from lmlab.multimodal.presets import load_multimodal_config
from lmlab.multimodal.runs import finetune_vqa, pretrain
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path, suite_path
from lmlab.recipes.compare_suite import load_suite_file

KIND = "multimodal"
BASELINES = {"question only": "blank_images=true", "image only": "blank_questions=true"}
TASK_NAMES = {"mlm_image": "MLM (image-conditioned)", "itm": "ITM"}


@dataclass
class ModelEntry:
    preset: str = ""
    """A ``multimodal/<name>`` pre-training preset (or a YAML path)."""
    label: str = ""
    """The row's name (VL-BERT, ViLBERT, …)."""


@dataclass
class MultimodalSuite:
    kind: str = KIND
    models: list[ModelEntry] = field(default_factory=list)
    vqa_preset: str = "multimodal/easy_vqa"
    seeds: list[int] = field(default_factory=lambda: [0])
    pretrain_steps: int = 1500
    finetune_steps: int = 1000
    overrides: list[str] = field(default_factory=list)
    """``--set`` style overrides given to every run (model size, data limits, threads)."""
    pretrain_overrides: list[str] = field(default_factory=list)
    """Overrides for the pre-training runs only (objective settings)."""
    quick: dict = field(default_factory=dict)
    """Keys that replace the ones above under ``--quick``."""


def is_multimodal_suite(name_or_path: str) -> bool:
    return load_raw(suite_path(name_or_path)).get("kind") == KIND


def load_multimodal_suite(name_or_path: str, quick: bool = False,
                          suite_overrides: list[str] = ()) -> MultimodalSuite:
    return load_suite_file(name_or_path, MultimodalSuite, quick, suite_overrides)


def _architecture(model: MultimodalConfig) -> tuple[str, str]:
    """(architecture, streams) in Table 8's words."""
    visual = {"grid": "grid-cell regions + boxes", "patch": "ViT patches",
              "vq": "k-means visual words"}[model.visual.kind]
    if model.architecture == "single_stream":
        return f"one transformer over text + {visual}", "single"
    extra = f", {model.num_visual_layers}-layer visual encoder" if model.num_visual_layers else ""
    block = ("cross-modality layers (LXMERT)" if model.cross_layer == "lxmert"
             else "co-attention (ViLBERT)")
    return f"text layers{extra} + {block}, {visual}", "two"


def _tasks(objectives) -> str:
    return " + ".join(o.describe() if o.name == "mrm" else TASK_NAMES[o.name]
                      for o in objectives)


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _run(work, folder: Path, config, log) -> dict:
    """One run unless its result exists; resume an interrupted one."""
    result_file = folder / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    resume = (folder / "checkpoint").exists()
    work(folder, config, resume=resume, log=lambda line: None)
    result = evaluate_vqa(folder) if config.kind == "vqa" else {}
    result_file.write_text(json.dumps(result))
    return result


def run_multimodal_compare(suite_name: str, out: str, quick: bool = False,
                           suite_overrides: list[str] = (), log=print,
                           overwrite: bool = False) -> dict:
    suite = load_multimodal_suite(suite_name, quick, suite_overrides)
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    started = time.perf_counter()
    steps = [f"train.max_steps={suite.pretrain_steps}"]
    tune_steps = [f"train.max_steps={suite.finetune_steps}"]
    rows = []
    for entry in suite.models:
        scores = []
        for seed in suite.seeds:
            seeded = [*suite.overrides, f"train.seed={seed}"]
            folder = out_dir / "runs" / _slug(entry.label) / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            log(f"{entry.label} seed {seed}: pre-train, fine-tune "
                f"({time.perf_counter() - started:.0f}s so far)")
            config = load_multimodal_config(preset_path(entry.preset),
                                            seeded + suite.pretrain_overrides + steps)
            _run(pretrain, folder / "pretrain", config, log)
            vqa = load_multimodal_config(preset_path(suite.vqa_preset),
                                         seeded + tune_steps +
                                         [f"init_from={folder / 'pretrain'}"])
            scores.append(_run(finetune_vqa, folder / "vqa", vqa, log))
        architecture, streams = _architecture(config.model)
        params = sum(p.numel() for p in build_multimodal(
            load_multimodal_config(folder / "pretrain" / "checkpoint" / "config.yaml").model)
            .parameters())
        rows.append({"model": entry.label, "preset": entry.preset,
                     "architecture": architecture, "streams": streams,
                     "pretraining_tasks": _tasks(config.objectives), "params": params,
                     **_summaries(scores)})
    first = load_multimodal_config(preset_path(suite.models[0].preset), suite.overrides).model
    for label, switch in BASELINES.items():
        scores = []
        for seed in suite.seeds:
            folder = out_dir / "runs" / _slug(label) / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            log(f"{label} baseline seed {seed} ({time.perf_counter() - started:.0f}s so far)")
            vqa = load_multimodal_config(preset_path(suite.vqa_preset),
                                         [*suite.overrides, f"train.seed={seed}", *tune_steps,
                                          switch])
            vqa.model = MultimodalConfig.from_dict(first.to_dict())
            scores.append(_run(finetune_vqa, folder / "vqa", vqa, log))
        rows.append({"model": f"{label} (baseline)", "preset": suite.vqa_preset,
                     "architecture": "no pre-training; " + label, "streams": "-",
                     "pretraining_tasks": "-", "params": None, **_summaries(scores)})
    table = write_table8(out_dir, suite, rows, quick)
    log(f"table: {out_dir / 'table8.md'} ({time.perf_counter() - started:.0f}s)")
    return {"out": str(out_dir), "table8": str(out_dir / "table8.md"), "rows": len(table)}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def _summaries(scores: list[dict]) -> dict:
    return {key: _mean_std([s[key] for s in scores])
            for key in ("accuracy", "yes_no_accuracy", "other_accuracy")}


def _cell(summary: dict) -> str:
    text = f"{100 * summary['mean']:.1f}"
    return text + (f" ± {100 * summary['std']:.1f}" if summary["n"] > 1 else "")


def write_table8(out: Path, suite: MultimodalSuite, rows: list[dict], quick: bool) -> list:
    """table8.md / table8.json; ``beats_baselines``: above both baselines' mean accuracy."""
    baseline = max(r["accuracy"]["mean"] for r in rows if r["streams"] == "-")
    for row in rows:
        row["beats_baselines"] = (row["accuracy"]["mean"] > baseline
                                  if row["streams"] != "-" else None)
    lines = [f"# Table 8, measured (easy-VQA dev; {len(suite.seeds)} seed(s); "
             f"{suite.pretrain_steps} pre-training + {suite.finetune_steps} fine-tuning steps"
             f"{'; --quick' if quick else ''})", "",
             "| model | architecture | streams | pre-training tasks | params | accuracy | "
             "yes/no | other | beats baselines |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        params = f"{row['params']:,}" if row["params"] else "-"
        beats = {True: "yes", False: "no", None: "-"}[row["beats_baselines"]]
        lines.append(f"| {row['model']} | {row['architecture']} | {row['streams']} | "
                     f"{row['pretraining_tasks']} | {params} | {_cell(row['accuracy'])} | "
                     f"{_cell(row['yes_no_accuracy'])} | {_cell(row['other_accuracy'])} | "
                     f"{beats} |")
    (out / "table8.md").write_text("\n".join(lines) + "\n")
    (out / "table8.json").write_text(json.dumps({"quick": quick, "seeds": suite.seeds,
                                                 "pretrain_steps": suite.pretrain_steps,
                                                 "finetune_steps": suite.finetune_steps,
                                                 "rows": rows}, indent=1))
    return rows
