"""MT-DNN (Liu et al. 2019): one shared encoder, a head per task, multi-task fine-tuning,
then per-task fine-tuning — ``lmlab finetune BASE --multitask glue/sst2 glue/mrpc ...``.

* Multi-task stage (§4, Algorithm 1): every epoch, the mini-batches of all tasks' training
  sets are merged and shuffled, so each step trains one task and a task is drawn in
  proportion to its size (its number of mini-batches). The step's loss is that task's
  head loss (cross-entropy, or MSE for STS-B) through the shared encoder; AdamW with
  linear warmup and decay over ``multitask_epochs``.
* Per-task stage (§4 "fine-tune ... using task-specific data"): for each task, a copy of
  the shared encoder and that task's head is fine-tuned on the task alone for
  ``options.epochs``, with model selection on dev, as ``lmlab finetune`` does.
* Single-task baseline (``single_task=True``): the base fine-tuned on each task alone for
  ``multitask_epochs + options.epochs`` epochs, so each task's examples are seen as
  often as in the multi-task route. Scores go beside each other in ``results.json`` and
  ``results.md``.

Each seed runs the whole route. The multi-task stage is a :class:`lmlab.training.loop.Job`,
so its batches are a pure function of the step and it checkpoints like any run.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

from lmlab.atomic import write_json
from lmlab.data.batching import Shard
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import task_data
from lmlab.finetune.batching import training_batches
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.features import collate
from lmlab.finetune.job import BEST, FinetuneJob, score
from lmlab.finetune.loop import mean_std, train_config
from lmlab.finetune.model import FineTuneModel, build_finetune_model
from lmlab.finetune.run_folder import load_base
from lmlab.objectives.base import LossOutput
from lmlab.outputs import prepare_output_folder
from lmlab.tasks.catalogue import get_task
from lmlab.training import checkpoint as ckpt
from lmlab.training import loop

MULTITASK_KINDS = ("classification", "regression")


class TaskData:
    """One task's spec, run config, encoded train features and (dev examples, features)."""

    def __init__(self, name: str, base: str, model_config, tokenizer, options: FinetuneOptions):
        self.spec = get_task(name)
        if self.spec.kind not in MULTITASK_KINDS:
            raise ConfigError(f"--multitask {name}: a {self.spec.kind} task; MT-DNN here "
                              f"takes classification and regression tasks (GLUE)")
        self.options = options.for_kind(self.spec.kind)
        train = task_data.subset(self.spec.read(self.options.train_split),
                                 self.options.max_train_examples, self.options.subset_seed)
        dev = self.spec.read(self.options.dev_split)
        labels = task_data.label_vocabulary(self.spec, train, {self.options.dev_split: dev})
        self.config = FinetuneRunConfig(task=self.spec.name, kind=self.spec.kind, base=base,
                                        labels=labels, model=model_config, options=self.options)
        self.train = task_data.encode(self.spec, tokenizer, train, self.config)
        self.dev = (dev, task_data.encode(self.spec, tokenizer, dev, self.config))


class MultitaskModel(nn.Module):
    """The shared backbone and a head per task; ``view(t)`` is task t's FineTuneModel
    (same parameters), which the fine-tuning code scores and trains."""

    def __init__(self, backbone, heads: dict[str, nn.Module]):
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)

    def view(self, task: str) -> FineTuneModel:
        return FineTuneModel(self.backbone, self.heads[task])


def build_multitask_model(base: str, tasks: list[TaskData], seed: int) -> MultitaskModel:
    _, _, backbone, pooler = load_base(base)
    heads = {}
    for index, task in enumerate(tasks):  # each head as lmlab finetune would start it
        single = build_finetune_model(backbone, task.spec.kind, len(task.config.labels),
                                      task.options, pooler, seed + index)
        heads[_key(task)] = single.head
    return MultitaskModel(backbone, heads)


def _key(task: TaskData) -> str:
    return task.spec.name.replace("/", "_")  # ModuleDict keys cannot hold a dot or slash


def merged_batches(sizes: list[int], lengths: list[list[int]], batch_size: int,
                   seed: int) -> list[tuple[int, list[int]]]:
    """One epoch of MT-DNN's Algorithm 1: every task's mini-batches (task t's are
    ``training_batches`` of its lengths), merged and shuffled: [(task, example indices)]."""
    merged = [(task, batch) for task in range(len(sizes))
              for batch in training_batches(lengths[task], batch_size, seed + 7919 * task)]
    random.Random(seed).shuffle(merged)
    return merged


class MultitaskJob:
    """The multi-task stage as a loop Job: batch i is task t's mini-batch of the merged
    epoch; the loss is that task's head loss; evaluation scores every task on dev."""

    def __init__(self, model: MultitaskModel, tasks: list[TaskData], tokenizer, batch_size: int,
                 seed: int, log):
        self.model, self.tasks, self.tokenizer = model, tasks, tokenizer
        self.config = tasks[0].config  # what the stage's checkpoint records beside the weights
        self.batch_size, self.seed, self.log = batch_size, seed, log
        self.lengths = [[len(f["ids"]) for f in task.train] for task in tasks]
        self.per_epoch = sum(math.ceil(len(task.train) / batch_size) for task in tasks)
        self._epoch, self._order = -1, None
        self.history: list[dict] = []
        self.steps_per_task = [0] * len(tasks)

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        epoch, position = divmod(index, self.per_epoch)
        if epoch != self._epoch:
            self._order = merged_batches([len(t.train) for t in self.tasks], self.lengths,
                                         self.batch_size, self.seed + 1000 * epoch)
            self._epoch = epoch
        task, indices = self._order[position]
        spec = self.tasks[task].spec
        batch = collate([self.tasks[task].train[i] for i in indices], spec.kind,
                        self.tokenizer.pad_id)
        return {**shard.rows(batch), "task": task}

    def loss(self, batch: dict) -> LossOutput:
        task = self.tasks[batch["task"]]
        view = self.model.view(_key(task))
        loss = view.head.loss(view(batch), batch)
        self.steps_per_task[batch["task"]] += 1
        return LossOutput(loss, {f"{_key(task)}_loss": loss.item()})

    def evaluate(self) -> dict:
        scores = {}
        for task in self.tasks:
            result, _ = score(self.model.view(_key(task)), task.spec, *task.dev, task.config,
                              self.tokenizer)
            scores[task.spec.name] = round(headline(result), 2)
        return scores

    def on_evaluation(self, step: int, result: dict) -> bool:
        self.history.append({"step": step, **result})
        self.log(f"multi-task step {step} dev {result}")
        return False

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state.get("history", []))


def _fit(model: FineTuneModel, task: TaskData, tokenizer, epochs: float, seed: int,
         folder: Path, log) -> dict:
    """Fine-tune ``model`` on one task as ``lmlab finetune`` does (dev model selection);
    the best dev scores."""
    options = task.options
    job = FinetuneJob(model, task.config, tokenizer, task.spec, task.train, task.dev, seed,
                      folder, log)
    total = max(1, math.ceil(job.per_epoch * epochs))
    every = max(1, job.per_epoch // options.evals_per_epoch)
    plan = loop.LoopPlan(train_config(options, total, every, seed), total,
                         f"{task.spec.name} seed {seed}")
    result = loop.train_job(job, plan, folder, job.per_epoch, None, log)
    return {"best": job.best, "train_seconds": round(result.train_seconds, 1)}


def multitask_finetune(base: str, task_names: list[str], options: FinetuneOptions,
                       out: str | Path, multitask_epochs: float = 1.0,
                       single_task: bool = False, command: str = "",
                       overwrite: bool = False) -> dict:
    """MT-DNN on ``task_names`` from ``base`` into ``out`` (module docstring)."""
    if len(task_names) < 2:
        raise ConfigError("--multitask: give at least two tasks (e.g. glue/sst2 glue/mrpc)")
    if multitask_epochs <= 0:
        raise ConfigError(f"--multitask-epochs: must be > 0, got {multitask_epochs}")
    if options.num_threads:
        torch.set_num_threads(options.num_threads)
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if options.progress else (lambda m: None)
    out = Path(out)
    model_config, tokenizer, _, _ = load_base(base)
    tasks = [TaskData(name, base, model_config, tokenizer, options) for name in task_names]
    prepare_output_folder(out, "finetune", overwrite, False)
    batch_size = tasks[0].options.batch_size
    rows: dict[str, dict[str, list[float]]] = {t.spec.name: {} for t in tasks}
    seeds = []
    for seed in options.seeds:
        started = time.perf_counter()
        model = build_multitask_model(base, tasks, seed)
        job = MultitaskJob(model, tasks, tokenizer, batch_size, seed, log)
        total = max(1, math.ceil(job.per_epoch * multitask_epochs))
        plan = loop.LoopPlan(train_config(tasks[0].options, total, job.per_epoch, seed), total,
                             f"multi-task seed {seed}")
        folder = out / "seeds" / str(seed)
        loop.train_job(job, plan, folder / "multitask", job.per_epoch, None, log)
        record = {"seed": seed, "multitask_history": job.history,
                  "multitask_seconds": round(time.perf_counter() - started, 1), "tasks": {}}
        for task in tasks:
            name = task.spec.name
            tuned = copy.deepcopy(model.view(_key(task)))
            fit = _fit(tuned, task, tokenizer, task.options.epochs, seed,
                       folder / _key(task), log)
            entry = {"multitask": job.history[-1][name], "mtdnn": headline(fit["best"]),
                     "mtdnn_seconds": fit["train_seconds"]}
            if single_task:
                _, _, backbone, pooler = load_base(base)
                fresh = build_finetune_model(backbone, task.spec.kind, len(task.config.labels),
                                             task.options, pooler, seed)
                alone = _fit(fresh, task, tokenizer, task.options.epochs + multitask_epochs,
                             seed, folder / f"{_key(task)}_single", log)
                entry.update(single=headline(alone["best"]), single_seconds=alone["train_seconds"])
            record["tasks"][name] = entry
            for column in ("multitask", "mtdnn", "single"):
                if column in entry:
                    rows[name].setdefault(column, []).append(entry[column])
            for finished in (ckpt.CHECKPOINT, BEST):
                for sub in (_key(task), f"{_key(task)}_single"):
                    _remove(folder / sub / finished)
        _remove(folder / "multitask" / ckpt.CHECKPOINT)
        seeds.append(record)
    summary = {"base": base, "tasks": [t.spec.name for t in tasks],
               "metrics": {t.spec.name: t.spec.metric for t in tasks},
               "train_examples": {t.spec.name: len(t.train) for t in tasks},
               "multitask_epochs": multitask_epochs,
               "options": json.loads(json.dumps(options.__dict__)), "command": command,
               "scores": {name: {column: mean_std(values) for column, values in columns.items()}
                          for name, columns in rows.items()},
               "seeds": seeds}
    write_json(out / "results.json", summary)
    (out / "results.md").write_text(markdown_table(summary))
    return summary


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def markdown_table(summary: dict) -> str:
    """Each task's dev score: after the multi-task stage, MT-DNN (+ per-task fine-tuning)
    and single-task fine-tuning, mean ± std over seeds."""
    def cell(scores: dict, column: str) -> str:
        value = scores.get(column)
        return f"{value['mean']:.2f} ± {value['std']:.2f}" if value else "—"

    lines = ["| task (metric) | train examples | multi-task only | MT-DNN (+ per-task) | single-task |",
             "|---|---|---|---|---|"]
    for name in summary["tasks"]:
        scores = summary["scores"][name]
        lines.append(f"| {name} ({summary['metrics'][name]}) | {summary['train_examples'][name]} "
                     f"| {cell(scores, 'multitask')} | {cell(scores, 'mtdnn')} "
                     f"| {cell(scores, 'single')} |")
    return "\n".join(lines) + "\n"
