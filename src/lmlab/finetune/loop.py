"""The fine-tuning loop: several seeds, early stopping on the dev metric, best kept.

BERT's recipe (Devlin et al. 2019, §4 and A.3): AdamW with linear warmup and decay, a few
epochs, model selection on dev. Small GLUE sets are noisy across seeds, so each seed is a
full run and the report gives mean ± std (Dodge et al. 2020); the best run of all seeds is
saved. Batches are length-sorted and dynamically padded.
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from lmlab.config import TrainConfig
from lmlab.evaluation.metrics import compute, headline
from lmlab.finetune import task_data
from lmlab.finetune.batching import evaluation_batches, training_batches
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.features import collate
from lmlab.finetune.model import build_finetune_model
from lmlab.finetune.run_folder import load_base, save_finetuned
from lmlab.tasks.catalogue import get_task
from lmlab.training.optim import build_optimizer, build_scheduler


@torch.no_grad()
def predict_features(model, features: list[dict], kind: str, batch_size: int, pad_id: int) -> list:
    """Head predictions for every feature, in the features' order."""
    model.eval()
    outputs: list = [None] * len(features)
    for indices in evaluation_batches([len(f["ids"]) for f in features], batch_size):
        batch = collate([features[i] for i in indices], kind, pad_id)
        for index, prediction in zip(indices, model.head.predict(model(batch), batch)):
            outputs[index] = prediction
    return outputs


def score(model, spec, examples, features, labels, options, pad_id) -> tuple[dict, list]:
    raw = predict_features(model, features, spec.kind, options.eval_batch_size, pad_id)
    predictions = task_data.decode(spec, examples, features, raw, labels, options)
    return compute(spec.metric, predictions, task_data.golds(spec, examples)), predictions


def _train_one_seed(spec, base: str, labels, train_features, dev, options, seed, log):
    _, tokenizer, backbone, pooler = load_base(base)
    model = build_finetune_model(backbone, spec.kind, len(labels), options, pooler, seed)
    train_config = TrainConfig(lr=options.lr, weight_decay=options.weight_decay,
                               schedule="linear", max_steps=1)
    lengths = [len(f["ids"]) for f in train_features]
    per_epoch = math.ceil(len(train_features) / options.batch_size)
    total = max(1, math.ceil(per_epoch * options.epochs))
    train_config.warmup_steps = int(options.warmup_ratio * total)
    optimizer = build_optimizer(model, train_config)
    scheduler = build_scheduler(optimizer, train_config, total, per_epoch)
    eval_every = max(1, per_epoch // options.evals_per_epoch)
    best, best_state, history, waited = None, None, [], 0
    step, started = 0, time.perf_counter()
    generator_seed = seed
    while step < total:
        for indices in training_batches(lengths, options.batch_size, generator_seed):
            model.train()
            batch = collate([train_features[i] for i in indices], spec.kind, tokenizer.pad_id)
            loss = model.head.loss(model(batch), batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if options.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 50 == 0:
                log(f"seed {seed} step {step}/{total} loss {loss.item():.4f} "
                    f"({time.perf_counter() - started:.0f}s)")
            # Evaluate every eval_every steps and at the end (not twice in a row).
            if (step % eval_every == 0 and total - step >= eval_every // 2) or step == total:
                scores, _ = score(model, spec, *dev, labels, options, tokenizer.pad_id)
                history.append({"step": step, "epoch": round(step / per_epoch, 2),
                                "loss": round(loss.item(), 4), **scores,
                                "seconds": round(time.perf_counter() - started, 1)})
                log(f"seed {seed} step {step}/{total} loss {loss.item():.4f} dev {scores}")
                if best is None or headline(scores) > headline(best):
                    best, waited = scores, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    waited += 1
                if options.patience and waited >= options.patience:
                    total = step  # early stop
            if step >= total:
                break
        generator_seed += 1000  # a new order each epoch
    model.load_state_dict(best_state)
    return model, tokenizer, best, history, time.perf_counter() - started


def _mean_std(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0}


def finetune(base: str, task: str, options: FinetuneOptions, out: str | Path,
             command: str = "") -> dict:
    """Fine-tune ``base`` on ``task`` once per seed; keep the best run in ``out``."""
    if options.num_threads:
        torch.set_num_threads(options.num_threads)
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if options.progress \
        else (lambda message: None)
    spec = get_task(task)
    options = options.for_kind(spec.kind)  # unset options: the task family's defaults
    model_config, tokenizer, _, _ = load_base(base)
    train = task_data.subset(spec.read(options.train_split), options.max_train_examples,
                             options.subset_seed)
    dev_examples = spec.read(options.dev_split)
    labels = task_data.label_vocabulary(spec, train, {options.dev_split: dev_examples})
    unk = task_data.check_vocabulary(tokenizer, spec, train, options.max_unk_rate, base)
    started = time.perf_counter()
    train_features = task_data.encode(spec, tokenizer, train, labels, options)
    dev = (dev_examples, task_data.encode(spec, tokenizer, dev_examples, labels, options))
    encode_seconds = time.perf_counter() - started
    runs, best_overall = [], None
    for seed in options.seeds:
        model, tokenizer, best, history, seconds = _train_one_seed(
            spec, base, labels, train_features, dev, options, seed, log)
        runs.append({"seed": seed, "best": best, "train_seconds": round(seconds, 1),
                     "history": history})
        if best_overall is None or headline(best) > headline(best_overall):
            best_overall = best
            config = FinetuneRunConfig(task=spec.name, kind=spec.kind, base=str(base),
                                       labels=labels, model=model_config, options=options)
            save_finetuned(Path(out), model, config, tokenizer,
                           {"seed": seed, "dev_score": headline(best)})
    summary = {"task": spec.name, "base": str(base), "dev_split": options.dev_split,
               "metric": next(iter(best_overall)), "train_examples": len(train),
               "dev_examples": len(dev_examples), "unk_rate": round(unk, 4),
               "scores": {name: _mean_std([r["best"][name] for r in runs])
                          for name in best_overall},
               "best_seed": max(runs, key=lambda r: headline(r["best"]))["seed"],
               "encode_seconds": round(encode_seconds, 1),
               "train_seconds_per_seed": _mean_std([r["train_seconds"] for r in runs]),
               "options": json.loads(json.dumps(options.__dict__)), "command": command,
               "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
               "runs": runs}
    write_json(Path(out) / "results.json", summary)
    return summary


def write_json(path: Path, data: dict) -> None:
    """Atomic: write a temporary sibling, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(temporary, temporary.with_name(path.name))
