"""The one training loop (DESIGN §4): pre-training, fine-tuning and what comes next.

The loop owns everything that is the same for every kind of training: device placement
and autocast, gradient accumulation, clipping, the optimizer and schedule steps, the
divergence stop, JSONL logging and the progress bar, the evaluation cadence, atomic
checkpoints and exact resume. What differs comes in as a :class:`Job`: the batch of a
step, the loss of a batch (an objective, or a task head) and what is evaluated.

Deterministic by construction: micro-batch ``i`` is a pure function of ``i``
(:meth:`Job.batch`), dropout draws from the global torch RNG whose state is checkpointed,
and corruption draws from generators seeded by (seed, step, example). A run interrupted
and resumed therefore ends with bit-identical parameters on CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch
from tqdm.auto import tqdm

from lmlab.config import TrainConfig
from lmlab.data.batching import Shard
from lmlab.errors import PeerLost, TrainingDiverged
from lmlab.objectives.base import LossOutput
from lmlab.training import checkpoint as ckpt
from lmlab.training.device import Placement, placement
from lmlab.training.distributed import (ALONE_WITH_FSDP, Replicas, World, join_world,
                                        rank_device)
from lmlab.training.metrics_log import MetricsLog
from lmlab.training.optim import build_optimizer, build_scheduler
from lmlab.training.sharded_checkpoint import optimizer_tensors


class Job(Protocol):
    """What one kind of training supplies to the loop."""

    model: torch.nn.Module
    config: object
    """Written as ``config.yaml`` beside the weights (``dump_config``-able)."""
    tokenizer: object
    """Written as ``tokenizer/`` beside the weights."""

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        """``shard``'s rows of micro-batch ``index`` (= step × grad_accum + micro), a pure
        function of both, ready for the model (corrupted, on the CPU)."""

    def loss(self, batch: dict) -> LossOutput:
        """The (weighted) loss of one micro-batch and its metrics to log."""

    def evaluate(self) -> dict:
        """Held-out metrics (the model is in eval mode; the loop restores train mode)."""

    def on_evaluation(self, step: int, result: dict) -> bool:
        """React to an evaluation (keep the best weights, count patience); True stops."""

    def state_dict(self) -> dict:
        """Job state exact resume needs (carried memory, best score), tensors only."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""


WEIGHT_LIMIT = 1e4
"""A checkpoint is written only while every weight is finite and at most this in absolute
value. Trained weights stay orders of magnitude below it (initialised at ~0.02, LayerNorm
gains near 1); an update from a learning rate orders of magnitude too high jumps past it
at once (AdamW moves each weight by about ``lr``). Saving such weights would keep a
checkpoint that fails again however the run is resumed, so the loop stops and keeps the
last good one."""


@dataclass
class LoopPlan:
    """How long and how often: ``settings`` is the run's ``TrainConfig`` (accumulation,
    clipping, log / eval / checkpoint cadence, time budget, seed, progress bar); fine-tuning
    builds one from its options."""

    settings: TrainConfig
    total_steps: int
    name: str = "train"
    count_steps: bool = True
    """Show a step total in the progress bar (False for time-bounded runs: no 100-h ETA)."""
    final_evaluation: bool = True


@dataclass
class LoopResult:
    steps: int
    train_seconds: float
    tokens_per_second: float
    final_loss: float
    evaluation: dict | None
    stopped_early: bool


@dataclass
class _Clock:
    step: int
    elapsed_before: float
    tokens: int
    began: float

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.began


def train_job(job: Job, plan: LoopPlan, run_dir: Path, steps_per_epoch: int,
              state: dict | None = None, log: Callable[[str], None] = print) -> LoopResult:
    """Place ``job``'s model (the weights of a resumed run, the device, ``compile``), build
    its optimizer and schedule from ``plan.settings``, and :func:`run` it.

    Threads: ``num_threads`` when set, else a resumed run keeps the count it was saved
    with: CPU sums depend on it, so another ``OMP_NUM_THREADS`` would part the resumed run
    from the uninterrupted one."""
    threads = plan.settings.num_threads or (state or {}).get("num_threads")
    if threads:
        torch.set_num_threads(int(threads))
    where = placement(plan.settings)
    world = join_world(plan.settings, where.device)
    where = Placement(rank_device(where.device, world), where.precision)
    if world.is_main:
        for stale in ckpt.remove_stale_temporaries(run_dir):  # a killed save's half-written folder
            log(f"removed {stale}, left by a checkpoint save that was interrupted")
    if state is not None:
        # verify=False: the caller checked this folder when it read the trainer state
        folder = ckpt.checkpoint_folder(run_dir, verify=False, sharded_ok=True)
        ckpt.load_weights(job.model, folder)
    job.model.to(where.device)
    if plan.settings.activation_checkpointing:
        _checkpoint_activations(job.model, log)
    if plan.settings.compile:
        job.model.compile()  # in place: the checkpoint keys stay the model's own
    if world.size == 1 and plan.settings.distributed == "fsdp":
        log(ALONE_WITH_FSDP)
    replicas = Replicas(job, world, where.device)
    if plan.settings.checkpoint_sharded and not replicas.sharded:
        log(SHARDED_WITHOUT_FSDP)
    optimizer = build_optimizer(job.model, plan.settings, fused=not replicas.sharded)
    scheduler = build_scheduler(optimizer, plan.settings, plan.total_steps, steps_per_epoch)
    try:
        result = run(job, optimizer, scheduler, plan, run_dir, where, state, log, replicas)
    except RuntimeError as error:
        if world.size > 1 and _peer_failure(error):
            raise PeerLost(_lost_peer_message(error, world, run_dir)) from error
        raise
    world.finish()
    return result


SHARDED_WITHOUT_FSDP = ("train.checkpoint_sharded: only FSDP over several processes shards the "
                        "weights; writing the single-file checkpoint")


def _checkpoint_activations(model: torch.nn.Module, log: Callable[[str], None]) -> None:
    """Switch on ``checkpoint_activations`` in every encoder that has it."""
    able = [module for module in model.modules() if hasattr(module, "checkpoint_activations")]
    for module in able:
        module.checkpoint_activations = True
    if not able:
        log("train.activation_checkpointing: this model has no transformer layers to "
            "recompute; training as usual")


def run(job: Job, optimizer, scheduler, plan: LoopPlan, run_dir: Path, where: Placement,
        state: dict | None = None, log: Callable[[str], None] = print,
        replicas: Replicas | None = None) -> LoopResult:
    """Train ``job`` for ``plan.total_steps`` optimizer steps into ``run_dir``, resuming
    from ``state`` (a checkpoint's trainer state) when given. Under torchrun,
    ``replicas`` holds the DDP wrapper and this process's rank; only rank 0 logs,
    evaluates and writes."""
    settings = plan.settings
    replicas = replicas or Replicas(job, World(), where.device)
    world = replicas.world
    metrics = MetricsLog(run_dir / "metrics.jsonl", enabled=world.is_main)
    clock = _Clock(0, 0.0, 0, time.perf_counter())
    scaler = where.scaler()
    if state is not None:
        _restore(job, replicas, optimizer, scheduler, scaler, state)
        clock = _Clock(int(state["step"]), float(state["elapsed"]), int(state["tokens"]),
                       time.perf_counter())
        for note in metrics.truncate_after(clock.step):
            log(note)
        log(f"resuming {run_dir} at step {clock.step}/{plan.total_steps}")
    else:
        # A fresh RNG stream for training, independent of how the model was built (and
        # of the other ranks': their dropout must differ).
        torch.manual_seed(settings.seed + 1 + world.rank)
    tokens_before, last_saved = clock.tokens, clock.step
    progress = tqdm(total=plan.total_steps if plan.count_steps else None, initial=clock.step,
                    disable=not (settings.progress and world.is_main), desc=f"train {plan.name}",
                    unit="step", dynamic_ncols=True, mininterval=1.0)
    window = (time.perf_counter(), 0)  # (start, tokens) of the logging window
    loss_value, stopped_early, evaluation, evaluated_at = float("nan"), False, None, -1
    job.model.train()
    while clock.step < plan.total_steps:
        loss_value, step_metrics, step_tokens = _one_step(job, replicas, optimizer, scheduler,
                                                          scaler, plan, where, clock.step,
                                                          run_dir, last_saved)
        clock.step += 1
        window = (window[0], window[1] + step_tokens)
        lr = scheduler.get_last_lr()[0]
        progress.update(1)
        progress.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.2e}", refresh=False)
        step = clock.step
        if settings.log_every and step % settings.log_every == 0:
            now = time.perf_counter()
            clock.tokens += window[1]
            metrics.write({"step": step, "loss": loss_value, "lr": lr,
                           "tokens_per_s": window[1] / max(1e-9, now - window[0]),
                           "elapsed_s": clock.elapsed(), **step_metrics})
            window = (now, 0)
        stop = False
        evaluate_now = (settings.eval_every and step % settings.eval_every == 0
                        and step < plan.total_steps)
        out_of_time = world.agree(bool(settings.max_time_s)
                                  and clock.elapsed() >= settings.max_time_s)
        due = settings.checkpoint_every and step % settings.checkpoint_every == 0
        if evaluate_now or due or out_of_time:
            _check_weights(replicas, step, run_dir, last_saved)
        if evaluate_now:
            with replicas.whole_weights():
                if world.is_main:
                    evaluation, evaluated_at = _evaluate(job, metrics, step), step
                    stop = job.on_evaluation(step, evaluation)
        stop = world.agree(stop)
        if due or out_of_time or stop:
            _save(job, replicas, optimizer, scheduler, scaler, run_dir,
                  _Clock(step, clock.elapsed(), clock.tokens + window[1], 0.0))
            last_saved = step
        if out_of_time or stop:
            stopped_early = step < plan.total_steps
            break
    progress.close()
    clock.tokens += window[1]
    train_seconds = clock.elapsed()
    if last_saved != clock.step:
        _check_weights(replicas, clock.step, run_dir, last_saved)
        _save(job, replicas, optimizer, scheduler, scaler, run_dir,
              _Clock(clock.step, train_seconds, clock.tokens, 0.0))
    if plan.final_evaluation and evaluated_at != clock.step:
        with replicas.whole_weights():
            if world.is_main:
                evaluation = _evaluate(job, metrics, clock.step, final=True)
                job.on_evaluation(clock.step, evaluation)
    elapsed_before = float(state["elapsed"]) if state is not None else 0.0
    speed = (clock.tokens - tokens_before) / max(1e-9, train_seconds - elapsed_before)
    return LoopResult(clock.step, train_seconds, speed, loss_value, evaluation, stopped_early)


def _one_step(job, replicas, optimizer, scheduler, scaler, plan, where, step, run_dir,
              last_saved):
    """Zero the gradients, accumulate ``grad_accum`` micro-batches, clip, step."""
    settings, world = plan.settings, replicas.world
    shard = Shard(world.rank, world.size)
    optimizer.zero_grad(set_to_none=True)
    step_metrics, tokens = {}, 0
    for micro in range(settings.grad_accum):
        batch = where.move(job.batch(step * settings.grad_accum + micro, shard))
        with replicas.accumulating(last_micro_batch=micro == settings.grad_accum - 1):
            with where.autocast():
                loss, batch_metrics = replicas.loss(batch)
            step_metrics.update(batch_metrics)
            loss = loss / settings.grad_accum
            if not torch.isfinite(loss):
                raise TrainingDiverged(_diverged_message(
                    f"step {step + 1}: the loss is {loss.item()}", run_dir, last_saved))
            scaler.scale(loss).backward()
        tokens += batch["input_ids"].numel() * world.size
    if settings.grad_clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(job.model.parameters(), settings.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return world.mean(loss.item() * settings.grad_accum), step_metrics, tokens


def _check_weights(replicas: Replicas, step: int, run_dir: Path, last_saved: int) -> None:
    """Stop before evaluating or saving weights that are not finite or beyond
    :data:`WEIGHT_LIMIT` (a finite loss can still come from weights ruined by its update)."""
    largest = replicas.largest_weight()  # NaN propagates through max
    if not math.isfinite(largest) or largest > WEIGHT_LIMIT:
        raise TrainingDiverged(_diverged_message(
            f"step {step}: the largest weight is {largest:.3g} (a checkpoint needs finite "
            f"weights within {WEIGHT_LIMIT:g})", run_dir, last_saved))


def _diverged_message(what: str, run_dir: Path, last_saved: int) -> str:
    """One line: what went wrong, and exactly which checkpoint is left (or that none is)."""
    folder = run_dir / ckpt.CHECKPOINT
    kept = (f"its last good checkpoint (step {last_saved}) in {folder} is kept"
            if folder.exists() else "no checkpoint had been written yet")
    return (f"{what}; the run stopped and {kept}; lower train.lr or raise train.warmup_steps, "
            f"then {'resume' if folder.exists() else 'start again'}")


def _evaluate(job, metrics: MetricsLog, step: int, final: bool = False) -> dict:
    job.model.eval()
    with torch.no_grad():
        result = job.evaluate()
    job.model.train()
    record = {"step": step, **{f"eval_{key}": value for key, value in result.items()}}
    metrics.write({**record, "final": True} if final else record)
    return result


def _trainer_state(job, replicas: Replicas, optimizer, scheduler, scaler, clock: _Clock,
                   optimizer_state: dict | None = None) -> dict:
    world = replicas.world
    rng = world.gather(torch.get_rng_state())  # every rank's dropout stream
    state = {"step": clock.step, "elapsed": clock.elapsed_before, "tokens": clock.tokens,
             "optimizer": optimizer_state or replicas.optimizer_state(optimizer),
             "scheduler": scheduler.state_dict(),
             "rng": rng[0], "num_threads": torch.get_num_threads(), "job": job.state_dict()}
    if world.size > 1:
        state["rng_by_rank"] = torch.stack(rng)
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    if scaler.is_enabled():
        state["scaler"] = scaler.state_dict()
    return state


def _save(job, replicas: Replicas, optimizer, scheduler, scaler, run_dir: Path,
          clock: _Clock) -> None:
    """Rank 0 writes (every rank takes part in gathering RNG states and FSDP shards, or,
    with ``train.checkpoint_sharded`` under FSDP, writes its own rank files)."""
    world = replicas.world
    if replicas.sharded and job.config.train.checkpoint_sharded:
        _save_sharded(job, replicas, optimizer, scheduler, scaler, run_dir, clock)
        return
    state = _trainer_state(job, replicas, optimizer, scheduler, scaler, clock)
    whole = {"weights": replicas.weights()} if replicas.sharded else {}
    if world.is_main:
        ckpt.save_checkpoint(run_dir, job.model, job.config, job.tokenizer, state, **whole)


def _save_sharded(job, replicas: Replicas, optimizer, scheduler, scaler, run_dir: Path,
                  clock: _Clock) -> None:
    """Every rank writes its rows into rank 0's temporary folder; after a barrier rank 0
    adds the rest and swaps the folder in (see :mod:`lmlab.training.sharded_checkpoint`)."""
    world = replicas.world
    temporary = world.gather(str(ckpt.new_temporary(run_dir, job.model)) if world.is_main
                             else None)[0]
    tensors, groups = optimizer_tensors(optimizer, replicas.parameter_names())
    ckpt.write_rank_files(Path(temporary), replicas.local_weights(), tensors, world.rank,
                          world.size)
    state = _trainer_state(job, replicas, optimizer, scheduler, scaler, clock, groups)
    world.finish()  # every rank file is on disk before rank 0 vouches for the folder
    if world.is_main:
        ckpt.save_checkpoint(run_dir, job.model, job.config, job.tokenizer, state,
                             temporary=Path(temporary))


def _restore(job, replicas: Replicas, optimizer, scheduler, scaler, state: dict) -> None:
    world = replicas.world
    base_lrs = list(scheduler.base_lrs)  # this run's train.lr, before the saved one lands
    replicas.load_optimizer_state(optimizer, state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _continue_on_this_schedule(optimizer, scheduler, base_lrs)
    torch.set_rng_state(_rank_rng(state, world))
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    if "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    # Checkpoints written before the Job protocol kept the objectives' state at the top.
    job.load_state_dict(state.get("job", {"objectives": state.get("objectives", [])}))


def _rank_rng(state: dict, world: World) -> torch.Tensor:
    """This rank's saved RNG state; when the world size changed, rank 0 takes the saved
    rank 0's and the others start streams seeded by (state's step, rank)."""
    by_rank = state.get("rng_by_rank")
    if by_rank is not None and len(by_rank) == world.size:
        # A copy: set_rng_state reads a row of the stacked tensor from its storage's start
        # (rank 1 of a 2-rank resume failed with "Invalid mt19937 state").
        return by_rank[world.rank].clone()
    if world.rank == 0:
        return state["rng"]
    return torch.Generator().manual_seed(int(state["step"]) * 1_000_003 + world.rank).get_state()


PEER_FAILURE_SIGNS = ("gloo", "nccl", "connection reset", "connection closed", "timed out",
                      "broken pipe")


def _peer_failure(error: RuntimeError) -> bool:
    """Whether a collective failed because another process died or stalled (gloo and
    NCCL raise plain RuntimeErrors that say so, DistError in newer releases)."""
    text = str(error).lower()
    return (isinstance(error, torch.distributed.DistError)
            or any(sign in text for sign in PEER_FAILURE_SIGNS))


def _lost_peer_message(error: BaseException, world: World, run_dir: Path) -> str:
    folder = run_dir / ckpt.CHECKPOINT
    kept = (f"the last checkpoint in {folder} is intact: resume the run with --resume"
            if folder.exists() else "no checkpoint had been written yet")
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"rank {world.rank} of {world.size} lost its peers (a process died or the "
            f"network failed: {first[:160]}); {kept}")


def _continue_on_this_schedule(optimizer, scheduler, base_lrs: list[float]) -> None:
    """The saved scheduler and optimizer state carry the saved run's base rate and current
    rate, so a resume with another ``train.lr`` or ``max_steps`` would silently keep the
    old ones. Put back this run's base rates and recompute the current rate on this run's
    schedule (``LambdaLR``'s own arithmetic, so an unchanged config resumes bit-exactly)."""
    scheduler.base_lrs = base_lrs
    for group, base, factor in zip(optimizer.param_groups, base_lrs, scheduler.lr_lambdas):
        group["lr"] = base * factor(scheduler.last_epoch)
