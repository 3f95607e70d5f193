"""lmlab's distillation against TextBrewer (issue 20): same teacher, same student, same data,
same optimizer; one JSON object with dev accuracy and training time side by side.

Teacher: a fine-tuned run (default ``/work/runs/sst2_teacher``, all-MiniLM-L6-v2 on the full
SST-2 train set). Student: the teacher's layers 1, 3, 5 copied (``init: every_other``), the
embedding, pooler and classifier included. Data: a fixed subset of the teacher's training
split (``task_data.subset`` with the teacher's ``subset_seed``), the same length-bucketed
batch order for both, one epoch per stage. Optimizer and schedule: lmlab's
(``build_optimizer`` / ``build_scheduler``: AdamW, lr 5e-5, weight decay 0.01 off biases and
norms, 10 % linear warm-up then linear decay, clip 1.0) handed to TextBrewer, so only the
distillation driver (losses, forward, step) differs. Model selection: both keep the best of
two dev evaluations per epoch.

1. KD (Hinton et al. 2015) at T = 2, α = 0.5: ``lmlab compress --method kd`` vs TextBrewer
   ``GeneralDistiller`` with ``kd_loss_type='ce'``, ``kd_loss_weight = α·T² = 2`` and
   ``hard_label_weight = 1 − α`` (TextBrewer's ce has no T² factor; the soft cross-entropy
   differs from lmlab's KL by the teacher's entropy, a constant, so the gradients equal).
2. TinyBERT (Jiao et al. 2020 eqs. 7-11): ``lmlab compress --method tinybert`` (one epoch of
   embedding + attention + hidden MSE over the layer map 2, 4, 6, then one epoch of
   prediction-layer soft cross-entropy at T = 1) vs TextBrewer's two ``GeneralDistiller``
   stages with ``intermediate_matches`` (``hidden_mse`` on layer 0 and the mapped layers,
   ``attention_mse`` on the mapped layers' QKᵀ/√d scores), then ``kd_loss_type='ce'``.

    nice -n 10 python bench/textbrewer_kd.py [--teacher RUN] [--examples 10000]
        [--out bench/results/textbrewer_kd.json] [--only kd|tinybert]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lmlab.compression.distillation.objective import run as forward_states
from lmlab.compression.distillation.student import student_from_teacher, teacher_layers
from lmlab.compression.method import Source
from lmlab.evaluation.metrics import headline
from lmlab.finetune import distill
from lmlab.finetune.batching import training_batches
from lmlab.finetune.features import collate
from lmlab.finetune.job import score
from lmlab.finetune.loop import train_config
from lmlab.finetune.run_folder import load_finetuned
from lmlab.recipes.compress import compress_run
from lmlab.training.optim import build_optimizer, build_scheduler


class Wrapped(nn.Module):
    """A FineTuneModel as TextBrewer calls it (``model(**batch)``): the logits, every
    layer's output (embedding = 0) and every layer's attention scores."""

    def __init__(self, model: nn.Module, scores: bool):
        super().__init__()
        self.model, self.scores = model, scores

    def forward(self, **batch):
        states = forward_states(self.model, batch, self.scores)
        out = {"logits": states.logits, "hidden": states.layers, "attention": states.scores,
               "inputs_mask": batch["attention_mask"]}
        if "labels" in batch:
            out["losses"] = [nn.functional.cross_entropy(states.logits, batch["labels"])]
        return out


def adaptor(batch, outputs):
    return outputs


def lmlab_run(teacher: str, method: str, settings: dict, folder: Path) -> dict:
    started = time.perf_counter()
    summary = compress_run(teacher, method, str(folder / method), settings)
    return {"dev": summary["student"]["dev"], "score_vs_teacher": summary["score_vs_teacher"],
            "teacher_dev": summary["teacher"]["dev"],
            "train_seconds": round(sum(s["train_seconds"] for s in summary["stages"]), 1),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "stages": [{k: s[k] for k in ("stage", "best", "train_seconds")}
                       for s in summary["stages"]]}


def textbrewer_stage(student, teacher, config, data, distill_config, settings, folder: Path,
                     scores: bool) -> dict:
    """One GeneralDistiller epoch over lmlab's batches; the best dev weights loaded back."""
    import textbrewer

    spec, train_features, dev = data
    options = config.options
    order = training_batches([len(f["ids"]) for f in train_features], options.batch_size,
                             settings["seed"])
    tokenizer = config_tokenizer[0]
    batches = [collate([train_features[i] for i in rows], spec.kind, tokenizer.pad_id)
               for rows in order]
    total = len(batches)
    train = train_config(options, total, max(1, total // 2), settings["seed"])
    optimizer = build_optimizer(student, train, fused=False)
    scheduler = build_scheduler(optimizer, train, total, total)
    best = {"dev": None, "state": None, "eval_seconds": 0.0}

    def callback(model, step):
        began = time.perf_counter()
        model.eval()
        result, _ = score(student, spec, *dev, config, tokenizer)
        if best["dev"] is None or headline(result) > headline(best["dev"]):
            best["dev"] = result
            best["state"] = {k: v.clone() for k, v in student.state_dict().items()}
        model.train()
        best["eval_seconds"] += time.perf_counter() - began

    training = textbrewer.TrainingConfig(device="cpu", output_dir=str(folder), log_dir=None,
                                         ckpt_frequency=2)
    distiller = textbrewer.GeneralDistiller(training, distill_config,
                                            Wrapped(teacher, scores).eval(),
                                            Wrapped(student, scores), adaptor, adaptor)
    torch.manual_seed(settings["seed"])
    student.train()
    started = time.perf_counter()
    with distiller:
        distiller.train(optimizer, batches, num_epochs=1, scheduler=scheduler,
                        max_grad_norm=options.grad_clip, callback=callback)
    seconds = time.perf_counter() - started
    student.load_state_dict(best["state"])
    return {"best": best["dev"], "train_seconds": round(seconds, 1),
            "eval_seconds": round(best["eval_seconds"], 1)}


config_tokenizer: list = []  # the teacher's tokenizer, set in textbrewer_run


def textbrewer_run(teacher_path: str, method: str, settings: dict, folder: Path) -> dict:
    import textbrewer
    from textbrewer import DistillationConfig

    started = time.perf_counter()
    config, tokenizer, teacher = load_finetuned(teacher_path)
    config_tokenizer[:] = [tokenizer]
    source = Source(Path(teacher_path), config, tokenizer, teacher, folder)
    chosen = teacher_layers("every_other", 6, settings["student_layers"], "init")
    student, student_config = student_from_teacher(teacher, dataclasses.replace(
        config, options=distill.run_options(config, {**distill.COMMON, **settings})), chosen)
    data = distill.task_features(source, student_config, settings["max_train_examples"])
    stages = []
    if method == "kd":
        temperature, alpha = settings["temperature"], settings["alpha"]
        kd = DistillationConfig(temperature=temperature, kd_loss_type="ce",
                                kd_loss_weight=alpha * temperature ** 2,
                                hard_label_weight=1 - alpha)
        stages.append({"stage": "kd", **textbrewer_stage(student, teacher, student_config, data,
                                                         kd, settings, folder / "kd", False)})
    else:
        layer_map = teacher_layers("uniform", 6, settings["student_layers"], "layer_map")
        matches = [{"layer_T": 0, "layer_S": 0, "feature": "hidden", "loss": "hidden_mse",
                    "weight": 1}]
        for m, n in enumerate(layer_map, start=1):
            matches.append({"layer_T": n, "layer_S": m, "feature": "hidden",
                            "loss": "hidden_mse", "weight": 1})
            matches.append({"layer_T": n - 1, "layer_S": m - 1, "feature": "attention",
                            "loss": "attention_mse", "weight": 1})
        intermediate = DistillationConfig(temperature=1, kd_loss_weight=0, hard_label_weight=0,
                                          intermediate_matches=matches)
        stages.append({"stage": "intermediate", **textbrewer_stage(
            student, teacher, student_config, data, intermediate, settings,
            folder / "intermediate", True)})
        prediction = DistillationConfig(temperature=1, kd_loss_type="ce", kd_loss_weight=1,
                                        hard_label_weight=0)
        stages.append({"stage": "prediction", **textbrewer_stage(
            student, teacher, student_config, data, prediction, settings,
            folder / "prediction", False)})
    best = stages[-1]["best"]
    return {"dev": best, "textbrewer": textbrewer.__version__,
            "train_seconds": round(sum(s["train_seconds"] for s in stages), 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="/work/runs/sst2_teacher")
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--only", choices=["kd", "tinybert"])
    parser.add_argument("--out", default="bench/results/textbrewer_kd.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    common = {"student_layers": 3, "epochs": 1.0, "lr": 5e-5, "batch_size": 32,
              "max_train_examples": args.examples, "seed": 0, "evals_per_epoch": 2}
    methods = {"kd": {**common, "temperature": 2.0, "alpha": 0.5},
               "tinybert": {**common, "temperature": 1.0, "intermediate_epochs": 1.0}}
    results = {"teacher": args.teacher, "examples": args.examples, "threads": 1,
               "machine": platform.processor() or platform.machine(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "runs": {}}
    folder = Path(tempfile.mkdtemp(prefix="textbrewer_kd_"))
    try:
        for method, settings in methods.items():
            if args.only and method != args.only:
                continue
            mine = lmlab_run(args.teacher, method, settings, folder / "lmlab")
            theirs = textbrewer_run(args.teacher, method, settings, folder / "textbrewer" / method)
            teacher = headline(mine["teacher_dev"])
            theirs["score_vs_teacher"] = round(100 * headline(theirs["dev"]) / teacher, 2)
            results["runs"][method] = {"lmlab": mine, "textbrewer": theirs}
            print(json.dumps({method: {"lmlab": mine["dev"], "textbrewer": theirs["dev"],
                                       "seconds": [mine["train_seconds"],
                                                   theirs["train_seconds"]]}}), flush=True)
            Path(args.out).write_text(json.dumps(results, indent=1) + "\n")  # after each method
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
