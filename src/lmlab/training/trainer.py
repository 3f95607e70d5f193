"""Pre-training: a run config becomes a :class:`PretrainingJob` for the one loop
(:mod:`lmlab.training.loop`), which owns the steps, checkpoints and exact resume.

The job's batch ``i`` comes from the token store's deterministic batching, its loss is the
weighted sum of the run's objectives (:mod:`lmlab.training.objective_step`) and its
evaluation is the run's held-out measure on the valid split
(:mod:`lmlab.objectives.held_out`), on fixed-seed masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lmlab.config import RunConfig, load_config, to_dict
from lmlab.data.batching import Shard
from lmlab.data.lm_data import prepare_tokenizer, token_store, unit_marks
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError, ConfigError
from lmlab.objectives.base import EVALUATION_SEED, EvaluationSettings, LossOutput
from lmlab.objectives.held_out import evaluate_held_out
from lmlab.registry import build_objectives
from lmlab.training import checkpoint as ckpt
from lmlab.training import loop, stages
from lmlab.training.device import placement
from lmlab.training.objective_step import combined_loss, corrupted
from lmlab.training.parts import build_parts, run_languages


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    train_seconds: float
    tokens_per_second: float
    final_loss: float
    valid: dict | None
    stopped_early: bool


class PretrainingJob:
    """Objectives on token-store batches; evaluated by the run's held-out measure."""

    def __init__(self, config: RunConfig, tokenizer: TextTokenizer):
        self.config, self.tokenizer = config, tokenizer
        parts = build_parts(config, tokenizer)
        self.model, self.objectives, self.batches = parts.model, parts.objectives, parts.batches
        self.valid_store = token_store(config.data, tokenizer, "valid")
        self.valid_marks = unit_marks(config.data, config.objectives, tokenizer, "valid",
                                      self.valid_store)
        self.valid_languages = run_languages(config, "valid", self.valid_store)
        # Held-out corruption draws from its own fixed seed, the same for every run.
        self.evaluators = build_objectives(config.objectives, tokenizer, EVALUATION_SEED)
        self.total_steps = config.train.max_steps  # the plan's total, set by train()

    def active_objectives(self, step: int) -> list:
        """The objectives that train at optimizer ``step`` (``train.stages``)."""
        names = [objective.config.name for objective in self.objectives]
        flags = stages.active(self.config.train.stages, names, step, self.total_steps)
        return [objective for objective, on in zip(self.objectives, flags) if on]

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        step = index // self.config.train.grad_accum
        batch = shard.rows(self.batches.batch(index))
        return {**corrupted(self.active_objectives(step), batch), "train_step": step}

    def loss(self, batch: dict) -> LossOutput:
        objectives = self.active_objectives(batch.get("train_step", 0))
        return combined_loss(self.model, objectives, batch)

    def evaluate(self) -> dict:
        data, train = self.config.data, self.config.train
        settings = EvaluationSettings(
            seq_len=data.seq_len, batch_size=data.eval_batch_size, stride=data.seq_len,
            max_tokens=train.eval_batches * data.eval_batch_size * data.seq_len,
            marks=self.valid_marks, languages=self.valid_languages)
        return evaluate_held_out(self.model, self.evaluators, self.valid_store.ids, settings)

    def on_evaluation(self, step: int, result: dict) -> bool:
        return False

    def state_dict(self) -> dict:
        return {"objectives": [objective.state_dict() for objective in self.objectives]}

    def load_state_dict(self, state: dict) -> None:
        for objective, saved in zip(self.objectives, state.get("objectives", [])):
            objective.load_state_dict(saved)


def _check_resume_compatible(saved: RunConfig, wanted: RunConfig | None, folder: Path) -> None:
    if wanted is None:
        return

    def shape(config: RunConfig) -> tuple:
        model = to_dict(config.model)
        model["embedding"].pop("vocab_size")  # filled from the tokenizer at build time
        return model, to_dict(config.objectives)

    if shape(saved) != shape(wanted):
        raise CheckpointError(
            f"{folder} holds a {saved.model.family} model ({saved.model.encoder.name}, "
            f"objectives {[o.name for o in saved.objectives]}), not the "
            f"{wanted.model.family} model of this config; resume without a config or "
            f"choose another --out")


RESUMABLE = ("train.max_steps", "train.max_epochs", "train.max_time_s", "train.lr",
             "train.eval_every", "train.checkpoint_every", "train.log_every",
             "train.eval_batches", "train.progress", "train.num_threads", "train.device",
             "train.precision", "train.compile", "train.activation_checkpointing", "train.distributed",
             "train.distributed_timeout_s")
"""The keys ``--set`` may change on resume: how long, how fast, how often, and where. The
rest (model, objectives, data, seed, optimizer, schedule shape) fix what the saved state
means; changing them would quietly train another run under this run's name."""


def _leaves(value, path: str = "") -> dict:
    """``{"train.lr": 0.001, "objectives.0.name": "clm", ...}`` of a config dict."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {path: value}
    leaves = {}
    for key, item in items:
        leaves.update(_leaves(item, f"{path}.{key}" if path else str(key)))
    return leaves


def _refuse_fixed_changes(saved: RunConfig, resumed: RunConfig, folder: Path) -> None:
    before, after = _leaves(to_dict(saved)), _leaves(to_dict(resumed))
    changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    fixed = [key for key in changed if key not in RESUMABLE]
    if fixed:
        raise ConfigError(f"--set {', '.join(fixed)}: cannot change when resuming {folder} "
                          f"(start a new run with --out instead); on resume only "
                          f"{', '.join(RESUMABLE)} may change")


def _resumed(config, run_dir: Path, overrides: list[str]):
    """(config, tokenizer, trainer state) of the run saved in ``run_dir``, with the
    ``overrides`` that may change on resume applied (and any other refused)."""
    folder = ckpt.checkpoint_folder(run_dir, sharded_ok=True)
    saved = ckpt.load_checkpoint_config(folder)
    _check_resume_compatible(saved, config, folder)
    resumed = load_config(raw=to_dict(saved), overrides=list(overrides)) if overrides else saved
    _refuse_fixed_changes(saved, resumed, folder)
    return resumed, TextTokenizer.load(folder / "tokenizer"), ckpt.load_trainer_state(folder)


def plan_for(config: RunConfig, steps_per_epoch: int, name: str) -> loop.LoopPlan:
    train = config.train
    total = (math.ceil(train.max_epochs * steps_per_epoch) if train.max_epochs
             else train.max_steps)
    return loop.LoopPlan(train, total, name,
                         count_steps=not (train.max_time_s and not train.max_epochs))


def train(config: RunConfig | None, run_dir: str | Path, resume: bool = False,
          overrides_after_resume: list[str] = (), log=print) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume`` continue the run saved there
    (``config``, when given, must describe the same model; ``overrides_after_resume`` may
    change only the :data:`RESUMABLE` keys)."""
    run_dir = Path(run_dir)
    state = None
    if resume:
        config, tokenizer, state = _resumed(config, run_dir, overrides_after_resume)
    else:
        if (run_dir / ckpt.CHECKPOINT).exists():
            raise CheckpointError(f"{run_dir} already holds a run; continue it with "
                                  f"'lmlab train --resume {run_dir}' or choose another --out "
                                  f"(nothing was overwritten)")
        tokenizer = prepare_tokenizer(config.data)
    placement(config.train)  # a device that does not exist is refused before any work
    job = PretrainingJob(config, tokenizer)
    steps_per_epoch = max(1, job.batches.steps_per_epoch // config.train.grad_accum)
    plan = plan_for(config, steps_per_epoch, run_dir.name)
    job.total_steps = plan.total_steps  # where train.stages' start_fraction falls
    result = loop.train_job(job, plan, run_dir, steps_per_epoch, state, log)
    return TrainResult(run_dir, result.steps, result.train_seconds, result.tokens_per_second,
                       result.final_loss, result.evaluation, result.stopped_early)
