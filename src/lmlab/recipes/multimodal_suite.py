"""``lmlab compare suites/multimodal``: the review's Table 8 (§5.3) made runnable (issue 22).

Every preset of the suite is pre-trained (emoji pairs + easy-VQA train pictures with their
questions) on the same compute — ``budget_flops`` divided by the model's measured FLOPs per
step (:mod:`lmlab.multimodal.step_cost`, as ``lmlab compare`` gives the text objectives the
same FLOPs), or, with ``budget_flops: 0``, the same ``pretrain_steps`` — then fine-tuned on
easy-VQA (the same steps for every model); two baselines are fine-tuned from scratch with the first preset's model: the
question only (every picture white) and the image only (every question empty). The table
keeps the review's descriptive columns (architecture, streams, pre-training tasks) and
adds the backbone's parameter count and the measured easy-VQA dev accuracy (overall,
yes/no, other; mean ± std over seeds), scored by ``lmlab evaluate``'s code, and image→text /
text→image retrieval recall@1/5 on the first ``retrieval_pairs`` held-out emoji pairs with
English and with Chinese captions (by each model's ITM head). A model counts only if it
beats both baselines.

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
from lmlab.multimodal.models import MultimodalConfig
from lmlab.multimodal.presets import load_multimodal_config
from lmlab.multimodal.runs import emoji_retrieval, finetune_vqa, pretrain
from lmlab.multimodal.step_cost import pretrain_step_flops
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path, suite_path
from lmlab.recipes.compare_suite import load_suite_file

KIND = "multimodal"
BASELINES = {"question only": "blank_images=true", "image only": "blank_questions=true"}
TASK_NAMES = {"mlm_image": "MLM (image-conditioned)", "itm": "ITM"}
RETRIEVAL = [f"{language}_{direction}_r{k}" for language in ("en", "zh")
             for direction in ("image_to_text", "text_to_image") for k in (1, 5)]


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
    """Pre-training steps of every model when ``budget_flops`` is 0."""
    budget_flops: float = 0.0
    """Pre-training compute per model: steps = budget_flops // (measured FLOPs per step)."""
    warmup_ratio: float = 0.1
    """With ``budget_flops``: warm-up steps as a share of each model's steps."""
    finetune_steps: int = 1000
    num_codes: int = 0
    """k-means codes of every region-classification objective and vq embedding (0: the
    presets' own)."""
    retrieval_pairs: int = 100
    """Held-out emoji pairs ranked for retrieval (0: all); chance R@1 = 1 / pairs."""
    overrides: list[str] = field(default_factory=list)
    """``--set`` style overrides given to every run (model size, data limits, threads)."""
    pretrain_overrides: list[str] = field(default_factory=list)
    """Overrides for the pre-training runs only (objective settings)."""
    finetune_overrides: list[str] = field(default_factory=list)
    """Overrides for the easy-VQA runs only (the baselines' too)."""
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
    if model.architecture == "single_stream" and model.fusion == "early":
        return f"one transformer over words, {visual} summed into the words (B2T2)", "single"
    if model.architecture == "single_stream":
        return f"one transformer over text + {visual}", "single"
    extra = f", {model.num_visual_layers}-layer visual encoder" if model.num_visual_layers else ""
    block = ("cross-modality layers (LXMERT)" if model.cross_layer == "lxmert"
             else "co-attention (ViLBERT)")
    return f"text layers{extra} + {block}, {visual}", "two"


def _tasks(objectives) -> str:
    return " + ".join(TASK_NAMES[o.name] if o.name in TASK_NAMES else o.describe()
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


def _codes(config, count: int) -> list[str]:
    """Overrides setting every k-means codebook of ``config`` to ``count`` codes."""
    if not count:
        return []
    sets = [f"objectives.{i}.num_codes={count}" for i, o in enumerate(config.objectives)
            if o.name == "mrm"]
    return sets + [f"model.visual.num_codes={count}"]


def _cached(path: Path, compute) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    path.write_text(json.dumps(result))
    return result


def _pretrain_config(suite: MultimodalSuite, entry: ModelEntry, seeded: list[str],
                     folder: Path, log):
    """The preset with the suite's overrides and its steps: equal FLOPs or equal steps."""
    base = load_multimodal_config(preset_path(entry.preset), seeded + suite.pretrain_overrides)
    sets = seeded + suite.pretrain_overrides + _codes(base, suite.num_codes)
    config = load_multimodal_config(preset_path(entry.preset), sets)
    # the same for every seed: measured once per model
    cost = _cached(folder.parent / "flops.json", lambda: pretrain_step_flops(config))
    steps = suite.pretrain_steps
    if suite.budget_flops:
        steps = max(1, int(suite.budget_flops // cost["flops_per_step"]))
        sets.append(f"train.warmup_steps={int(suite.warmup_ratio * steps)}")
    config = load_multimodal_config(preset_path(entry.preset),
                                    sets + [f"train.max_steps={steps}"])
    return config, {**cost, "steps": steps}


def run_multimodal_compare(suite_name: str, out: str, quick: bool = False,
                           suite_overrides: list[str] = (), log=print,
                           overwrite: bool = False) -> dict:
    suite = load_multimodal_suite(suite_name, quick, suite_overrides)
    out_dir = prepare_output_folder(out, "compare", overwrite, resume=True)
    started = time.perf_counter()
    tune_steps = [f"train.max_steps={suite.finetune_steps}", *suite.finetune_overrides]
    rows = []
    for entry in suite.models:
        scores, found = [], []
        for seed in suite.seeds:
            seeded = [*suite.overrides, f"train.seed={seed}"]
            folder = out_dir / "runs" / _slug(entry.label) / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            config, cost = _pretrain_config(suite, entry, seeded, folder, log)
            log(f"{entry.label} seed {seed}: pre-train {cost['steps']} steps "
                f"({cost['flops_per_step'] / 1e9:.2f} GFLOPs each), fine-tune "
                f"({time.perf_counter() - started:.0f}s so far)")
            _run(pretrain, folder / "pretrain", config, log)
            found.append(_cached(folder / "retrieval.json", lambda: emoji_retrieval(
                folder / "pretrain", suite.retrieval_pairs)))
            vqa = load_multimodal_config(preset_path(suite.vqa_preset),
                                         seeded + tune_steps +
                                         [f"init_from={folder / 'pretrain'}"])
            scores.append(_run(finetune_vqa, folder / "vqa", vqa, log))
        architecture, streams = _architecture(config.model)
        rows.append({"model": entry.label, "preset": entry.preset,
                     "architecture": architecture, "streams": streams,
                     "pretraining_tasks": _tasks(config.objectives), "params": cost["params"],
                     "flops_per_step": cost["flops_per_step"], "pretrain_steps": cost["steps"],
                     "retrieval_pairs": found[0]["pairs"], **_summaries(scores),
                     "retrieval": {key: _mean_std([f[key] for f in found])
                                   for key in RETRIEVAL}})
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
                     "pretraining_tasks": "-", "params": None, "flops_per_step": None,
                     "pretrain_steps": 0, **_summaries(scores)})
    seconds = time.perf_counter() - started
    table = write_table8(out_dir, suite, rows, quick, seconds)
    log(f"table: {out_dir / 'table8.md'} ({seconds:.0f}s)")
    return {"out": str(out_dir), "table8": str(out_dir / "table8.md"), "rows": len(table)}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def _summaries(scores: list[dict]) -> dict:
    return {key: _mean_std([s[key] for s in scores])
            for key in ("accuracy", "yes_no_accuracy", "other_accuracy")}


def _cell(summary: dict) -> str:
    text = f"{100 * summary['mean']:.1f}"
    return text + (f" ± {100 * summary['std']:.1f}" if summary["n"] > 1 else "")


def _pair(row: dict, key: str) -> str:
    """``R@1 / R@5`` of one retrieval direction and language, in percent (± std)."""
    one, five = row["retrieval"][f"{key}_r1"], row["retrieval"][f"{key}_r5"]
    return f"{_cell(one)} / {_cell(five)}"


def write_table8(out: Path, suite: MultimodalSuite, rows: list[dict], quick: bool,
                 seconds: float = 0.0) -> list:
    """table8.md / table8.json; ``beats_baselines``: above both baselines' mean accuracy."""
    baseline = max(r["accuracy"]["mean"] for r in rows if r["streams"] == "-")
    for row in rows:
        row["beats_baselines"] = (row["accuracy"]["mean"] > baseline
                                  if row["streams"] != "-" else None)
    budget = (f"{suite.budget_flops:.3g} pre-training FLOPs per model" if suite.budget_flops
              else f"{suite.pretrain_steps} pre-training steps")
    lines = [f"# Table 8, measured (easy-VQA dev; {len(suite.seeds)} seed(s); {budget} + "
             f"{suite.finetune_steps} fine-tuning steps{'; --quick' if quick else ''}; "
             f"{seconds / 60:.1f} min)", "",
             "| model | architecture | streams | pre-training tasks | params | GFLOPs/step | "
             "steps | accuracy | yes/no | other | beats baselines |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        params = f"{row['params']:,}" if row["params"] else "-"
        flops = f"{row['flops_per_step'] / 1e9:.2f}" if row["flops_per_step"] else "-"
        beats = {True: "yes", False: "no", None: "-"}[row["beats_baselines"]]
        lines.append(f"| {row['model']} | {row['architecture']} | {row['streams']} | "
                     f"{row['pretraining_tasks']} | {params} | {flops} | "
                     f"{row['pretrain_steps'] or '-'} | {_cell(row['accuracy'])} | "
                     f"{_cell(row['yes_no_accuracy'])} | {_cell(row['other_accuracy'])} | "
                     f"{beats} |")
    pretrained = [row for row in rows if "retrieval" in row]
    if pretrained:
        pairs = pretrained[0]["retrieval_pairs"]
        lines += ["", f"Retrieval on {pairs} held-out emoji pairs by the ITM head, R@1 / R@5 "
                  f"(%; chance {100 / pairs:.1f} / {500 / pairs:.1f})", "",
                  "| model | en image→text | en text→image | zh image→text | zh text→image |",
                  "|---|---|---|---|---|"]
        for row in pretrained:
            lines.append(f"| {row['model']} | {_pair(row, 'en_image_to_text')} | "
                         f"{_pair(row, 'en_text_to_image')} | {_pair(row, 'zh_image_to_text')} "
                         f"| {_pair(row, 'zh_text_to_image')} |")
    (out / "table8.md").write_text("\n".join(lines) + "\n")
    (out / "table8.json").write_text(json.dumps({"quick": quick, "seeds": suite.seeds,
                                                 "budget_flops": suite.budget_flops,
                                                 "pretrain_steps": suite.pretrain_steps,
                                                 "finetune_steps": suite.finetune_steps,
                                                 "seconds": seconds, "rows": rows}, indent=1))
    return rows
