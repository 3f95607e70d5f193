"""``lmlab finetune``: several seeds, each a run of the one training loop
(:mod:`lmlab.training.loop`) with early stopping on the dev metric, the best kept.

Small GLUE sets are noisy across seeds, so each seed is a full run and the report gives
mean ± std (Dodge et al. 2020); the best run of all seeds is saved in ``--out``. Every
seed trains in ``<out>/seeds/<seed>/`` with atomic checkpoints and a JSONL log, so a run
killed at any point continues exactly with ``--resume``; a finished seed keeps only its
``result.json`` and log.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

from lmlab.atomic import write_json
from lmlab.config import TrainConfig
from lmlab.errors import CheckpointError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import task_data
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig, same_options
from lmlab.finetune.job import BEST, FinetuneJob
from lmlab.finetune.model import build_finetune_model, task_language
from lmlab.finetune.multi_language import extra_training, with_language
from lmlab.finetune.pseudo_labels import pseudo_label
from lmlab.finetune.run_folder import (check_pooling, generation_setup, load_base,
                                       save_finetuned)
from lmlab.outputs import prepare_output_folder
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.text_to_text import text_to_text
from lmlab.training import checkpoint as ckpt
from lmlab.training import loop

SEEDS = "seeds"
OPTIONS_FILE = "finetune.json"


def train_config(options: FinetuneOptions, total_steps: int, eval_every: int,
                 seed: int) -> TrainConfig:
    """The loop's settings of one fine-tuning seed: AdamW with linear warm-up and decay
    (or the one-cycle policy rising over ``warmup_ratio``), an evaluation and a checkpoint
    every ``eval_every`` steps."""
    one_cycle = options.schedule == "one_cycle"
    return TrainConfig(lr=options.lr, weight_decay=options.weight_decay,
                       schedule=options.schedule,
                       warmup_steps=0 if one_cycle else int(options.warmup_ratio * total_steps),
                       cycle_rise_fraction=min(0.99, max(0.01, options.warmup_ratio)),
                       grad_clip=options.grad_clip, max_steps=total_steps, seed=seed,
                       log_every=10, eval_every=eval_every, checkpoint_every=eval_every,
                       num_threads=options.num_threads, progress=options.progress,
                       device=options.device, precision=options.precision)


def _train_one_seed(spec, base: str, config: FinetuneRunConfig, train_features, dev, seed: int,
                    folder: Path, log) -> dict:
    options = config.options
    _, tokenizer, backbone, pooler = load_base(base)
    model = build_finetune_model(backbone, spec.kind, len(config.labels), options, pooler, seed)
    model.language = task_language(backbone, spec.language)
    job = FinetuneJob(model, config, tokenizer, spec, train_features, dev, seed, folder, log)
    total = max(1, math.ceil(job.per_epoch * options.epochs))
    eval_every = max(1, job.per_epoch // options.evals_per_epoch)
    plan = loop.LoopPlan(train_config(options, total, eval_every, seed), total,
                         f"{spec.name} seed {seed}")
    state = (ckpt.load_trainer_state(ckpt.checkpoint_folder(folder))
             if (folder / ckpt.CHECKPOINT).exists() else None)
    result = loop.train_job(job, plan, folder, job.per_epoch, state, log)
    ckpt.load_weights(model, ckpt.checkpoint_folder(folder / BEST))
    return {"seed": seed, "best": job.best, "train_seconds": round(result.train_seconds, 1),
            "history": job.history, "model": model.cpu(), "tokenizer": tokenizer}


def mean_std(values: list[float]) -> dict:
    """Seeds' scores as {mean, std} (sample std; 0 for one seed), 2 decimals."""
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0}


def _start_folder(out: Path, options: FinetuneOptions, resume: bool, overwrite: bool) -> None:
    """Refuse to mix two fine-tunings (or a fine-tuning and another model) in one folder
    (:mod:`lmlab.outputs`); on resume, the options must match."""
    prepare_output_folder(out, "finetune", overwrite, resume)
    saved = out / OPTIONS_FILE
    wanted = json.loads(json.dumps(options.__dict__))
    if saved.exists():
        if not same_options(json.loads(saved.read_text())["options"], options):
            raise CheckpointError(f"{out} was fine-tuned with other options; resume with the "
                                  f"same options or choose another --out")
        return
    write_json(saved, {"options": wanted})


def finetune(base: str, task: str, options: FinetuneOptions, out: str | Path,
             command: str = "", resume: bool = False, overwrite: bool = False) -> dict:
    """Fine-tune ``base`` on ``task`` once per seed; keep the best run in ``out``.
    ``resume`` continues the fine-tuning in ``out``; ``overwrite`` replaces what is there."""
    if options.num_threads:
        torch.set_num_threads(options.num_threads)
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if options.progress \
        else (lambda message: None)
    out = Path(out)
    spec = get_task(task)
    if options.text_to_text:
        spec = text_to_text(spec)
    options = options.for_kind(spec.kind)  # unset options: the task family's defaults
    model_config, tokenizer, backbone, _ = load_base(base)
    check_pooling(backbone, spec.kind, options.pooling, str(base))
    mode, start = generation_setup(base, tokenizer) if spec.kind == "generation" else ("", None)
    if options.text_to_text:
        task_data.check_label_texts(tokenizer, task, str(base))
    train = task_data.subset(spec.read(options.train_split), options.max_train_examples,
                             options.subset_seed)
    dev_examples = spec.read(options.dev_split)
    extra_spec, extra = extra_training(spec, options)
    bootstrap = None
    if options.pseudo_labels_from:  # MultiFiT §3.3: the teacher's labels, not the gold ones
        relabelled, bootstrap = pseudo_label(options.pseudo_labels_from, spec,
                                             {"train": train, "dev": dev_examples})
        train, dev_examples = relabelled["train"], relabelled["dev"]
    labels = task_data.label_vocabulary(spec, train + extra, {options.dev_split: dev_examples})
    unk = task_data.check_vocabulary(tokenizer, spec, train, options.max_unk_rate, base)
    _start_folder(out, options, resume, overwrite)
    config = FinetuneRunConfig(task=spec.name, kind=spec.kind, base=str(base), labels=labels,
                               model=model_config, options=options, generation_mode=mode,
                               decoder_start_id=start)
    started = time.perf_counter()
    train_features = task_data.encode(spec, tokenizer, train, config)
    if extra:  # Unicoder §3.5: source and translation together, each in its language
        train_features = (
            with_language(train_features, task_language(backbone, spec.language))
            + with_language(task_data.encode(extra_spec, tokenizer, extra, config),
                            task_language(backbone, extra_spec.language)))
    dev = (dev_examples, task_data.encode(spec, tokenizer, dev_examples, config))
    encode_seconds = time.perf_counter() - started
    runs = [_seed_run(spec, base, config, train_features, dev, seed, out, log)
            for seed in options.seeds]
    best_run = max(runs, key=lambda r: headline(r["best"]))
    best_overall = best_run["best"]
    summary = {"task": spec.name, "base": str(base), "dev_split": options.dev_split,
               "metric": next(iter(best_overall)), "train_examples": len(train),
               "dev_examples": len(dev_examples), "unk_rate": round(unk, 4),
               "scores": {name: mean_std([r["best"][name] for r in runs])
                          for name in best_overall},
               "best_seed": best_run["seed"], "encode_seconds": round(encode_seconds, 1),
               "train_seconds_per_seed": mean_std([r["train_seconds"] for r in runs]),
               "options": json.loads(json.dumps(options.__dict__)), "command": command,
               "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
               "runs": runs}
    if bootstrap is not None:  # dev scores above are agreement with the teacher
        summary["pseudo_labels"] = bootstrap
    write_json(out / "results.json", summary)
    return summary


def _seed_run(spec, base, config, train_features, dev, seed: int, out: Path, log) -> dict:
    """One seed's result, trained now or read back; the best seed so far goes to ``out``."""
    folder = out / SEEDS / str(seed)
    done = folder / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    run = _train_one_seed(spec, base, config, train_features, dev, seed, folder, log)
    model, tokenizer = run.pop("model"), run.pop("tokenizer")
    best_file = out / "best_seed.json"
    kept = json.loads(best_file.read_text()) if best_file.exists() else None
    if kept is None or headline(run["best"]) > kept["dev_score"]:
        save_finetuned(out, model, config, tokenizer, {"seed": seed,
                                                       "dev_score": headline(run["best"])})
        write_json(best_file, {"seed": seed, "dev_score": headline(run["best"])})
    write_json(done, run)
    for finished in (ckpt.CHECKPOINT, BEST):  # a finished seed needs only its scores
        shutil.rmtree(folder / finished, ignore_errors=True)
    return run
