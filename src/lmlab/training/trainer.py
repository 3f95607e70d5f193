"""The one training loop for every neural family (DESIGN §4).

Deterministic by construction: batch ``i`` is a pure function of the data and the step
(:mod:`lmlab.data.batching`), dropout draws from the global torch RNG whose state is
checkpointed, and masking draws from generators seeded by (seed, step, example). So a run
interrupted and resumed ends with bit-identical parameters on CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.config import RunConfig, to_dict
from lmlab.data.lm_data import prepare_tokenizer, token_store, unit_marks
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError, TrainingDiverged
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.training import checkpoint as ckpt
from lmlab.training.metrics_log import MetricsLog
from lmlab.training.objective_step import combined_loss
from lmlab.training.optim import build_optimizer, build_scheduler
from lmlab.training.parts import build_parts


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    train_seconds: float
    tokens_per_second: float
    final_loss: float
    valid: dict | None
    stopped_early: bool


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


def train(config: RunConfig | None, run_dir: str | Path, resume: bool = False,
          overrides_after_resume: list[str] = (), log=print) -> TrainResult:
    """Train ``config`` into ``run_dir``; with ``resume`` continue the run saved there."""
    run_dir = Path(run_dir)
    state = None
    if resume:
        folder = ckpt.checkpoint_folder(run_dir)
        saved = ckpt.load_checkpoint_config(folder)
        _check_resume_compatible(saved, config, folder)
        if overrides_after_resume:
            from lmlab.config import load_config
            saved = load_config(raw=to_dict(saved), overrides=list(overrides_after_resume))
        config = saved
        tokenizer = TextTokenizer.load(folder / "tokenizer")
        state = ckpt.load_trainer_state(folder)
    else:
        if (run_dir / ckpt.CHECKPOINT).exists():
            raise CheckpointError(f"{run_dir} already holds a run; continue it with "
                                  f"'lmlab train --resume {run_dir}' or choose another --out "
                                  f"(nothing was overwritten)")
        tokenizer = prepare_tokenizer(config.data)
    train_cfg = config.train
    if train_cfg.num_threads:
        torch.set_num_threads(train_cfg.num_threads)
    elif state is not None and state.get("num_threads"):
        # CPU reductions (matmuls, norms) sum in an order that depends on the intra-op
        # thread count, so an exact resume continues with the count the run was saved with
        # (a process started with another OMP_NUM_THREADS, or on another machine, would
        # part from the uninterrupted run within steps); train.num_threads overrides it.
        torch.set_num_threads(int(state["num_threads"]))

    parts = build_parts(config, tokenizer)
    model, objectives, batches = parts.model, parts.objectives, parts.batches
    valid_store = token_store(config.data, tokenizer, "valid")
    valid_marks = unit_marks(config.data, config.objectives, tokenizer, "valid", valid_store)
    micro_per_epoch = batches.steps_per_epoch
    steps_per_epoch = max(1, micro_per_epoch // train_cfg.grad_accum)
    total_steps = (math.ceil(train_cfg.max_epochs * steps_per_epoch) if train_cfg.max_epochs
                   else train_cfg.max_steps)
    optimizer = build_optimizer(model, train_cfg)
    scheduler = build_scheduler(optimizer, train_cfg, total_steps, steps_per_epoch)

    metrics = MetricsLog(run_dir / "metrics.jsonl")
    start_step, elapsed_before, tokens_before = 0, 0.0, 0
    if state is not None:
        ckpt.load_weights(model, ckpt.checkpoint_folder(run_dir))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        for objective, saved_state in zip(objectives, state["objectives"]):
            if hasattr(objective, "load_state_dict"):  # only stateful objectives have one
                objective.load_state_dict(saved_state)
        start_step, elapsed_before = int(state["step"]), float(state["elapsed"])
        tokens_before = int(state["tokens"])
        metrics.truncate_after(start_step)
        log(f"resuming {run_dir} at step {start_step}/{total_steps}")
    else:
        # Take a fresh RNG stream for training, independent of how the model was built.
        torch.manual_seed(train_cfg.seed + 1)

    def trainer_state(step: int, elapsed: float, tokens: int) -> dict:
        return {"step": step, "elapsed": elapsed, "tokens": tokens,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(), "num_threads": torch.get_num_threads(),
                "objectives": [o.state_dict() if hasattr(o, "state_dict") else {}
                               for o in objectives]}

    def save(step: int, elapsed: float, tokens: int) -> None:
        ckpt.save_checkpoint(run_dir, model, config, tokenizer, trainer_state(step, elapsed, tokens))

    def quick_eval() -> dict:
        budget = train_cfg.eval_batches * config.data.eval_batch_size * config.data.seq_len
        result = evaluate_perplexity(model, config, tokenizer, valid_store.ids,
                                     stride=config.data.seq_len, max_tokens=budget,
                                     marks=valid_marks)
        model.train()
        return result

    # A time-budgeted run has no meaningful step total: show a counter, not a 100-hour ETA.
    time_bound = bool(train_cfg.max_time_s) and not train_cfg.max_epochs
    progress = _progress(start_step, None if time_bound else total_steps, train_cfg.progress,
                         run_dir.name)
    model.train()
    step, tokens, loss_value = start_step, tokens_before, float("nan")
    began = time.perf_counter()
    window_start, window_tokens = began, 0
    last_saved = start_step
    stopped_early = False
    while step < total_steps:
        optimizer.zero_grad(set_to_none=True)
        step_metrics: dict = {}
        for micro in range(train_cfg.grad_accum):
            batch = batches.batch(step * train_cfg.grad_accum + micro)
            loss, batch_metrics = combined_loss(model, objectives, config.objectives, batch)
            step_metrics.update(batch_metrics)
            loss = loss / train_cfg.grad_accum
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"step {step}: the loss is {loss.item()}; the run stopped and its last "
                    f"good checkpoint (step {last_saved}) in {run_dir / ckpt.CHECKPOINT} is "
                    f"kept; lower train.lr or raise train.warmup_steps, then resume")
            loss.backward()
            window_tokens += batch["input_ids"].numel()
        if train_cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        loss_value = loss.item() * train_cfg.grad_accum
        progress.update(1)
        progress.set_postfix(loss=f"{loss_value:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}",
                             refresh=False)
        now = time.perf_counter()
        if train_cfg.log_every and step % train_cfg.log_every == 0:
            tokens += window_tokens
            metrics.write({"step": step, "loss": loss_value, "lr": scheduler.get_last_lr()[0],
                           "tokens_per_s": window_tokens / max(1e-9, now - window_start),
                           "elapsed_s": elapsed_before + now - began, **step_metrics})
            window_start, window_tokens = now, 0
        if train_cfg.eval_every and step % train_cfg.eval_every == 0 and step < total_steps:
            result = quick_eval()
            metrics.write({"step": step, "eval_ppl": result["perplexity"],
                           "eval_loss": result["loss"]})
        out_of_time = train_cfg.max_time_s and elapsed_before + now - began >= train_cfg.max_time_s
        if (train_cfg.checkpoint_every and step % train_cfg.checkpoint_every == 0) or out_of_time:
            save(step, elapsed_before + now - began, tokens + window_tokens)
            last_saved = step
        if out_of_time:
            stopped_early = step < total_steps
            break
    progress.close()
    tokens += window_tokens
    train_seconds = elapsed_before + time.perf_counter() - began
    if last_saved != step:
        save(step, train_seconds, tokens)
    valid = quick_eval()
    metrics.write({"step": step, "eval_ppl": valid["perplexity"], "eval_loss": valid["loss"],
                   "final": True})
    return TrainResult(run_dir, step, train_seconds,
                       (tokens - tokens_before) / max(1e-9, train_seconds - elapsed_before),
                       loss_value, valid, stopped_early)


def _progress(start: int, total: int, enabled: bool, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, desc=f"train {name}",
                unit="step", dynamic_ncols=True, mininterval=1.0)
