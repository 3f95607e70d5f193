"""What one training step of a run costs: FLOPs counted on a real batch, and time.

Used to give every pre-training run of a comparison the same compute (``lmlab compare``)
and by ``bench/objective_throughput.py``. The parts are built exactly as the training loop
builds them (tokenizer, model with the objectives' heads, objectives, batches), so an
ELECTRA step includes its generator and an MLM step projects only the masked positions.

FLOPs come from :class:`torch.utils.flop_counter.FlopCounterMode` over the forward and
backward pass of one batch (``grad_accum`` micro-batches make one step): matrix products
and attention, counted as 2 FLOPs per multiply-add; element-wise work, the optimizer
update and data preparation are not counted. Attention runs through the reference
(explicit matmul) path while counting, because the counter does not see PyTorch's fused
CPU attention kernel; the arithmetic is the same. The fused LM-head loss's in-place
``addmm_`` (its weight gradient) is counted through a custom formula. A test checks the
count against the closed form of an MLM step exactly.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch

from lmlab.config import RunConfig
from lmlab.data.lm_data import prepare_tokenizer
from lmlab.training.objective_step import combined_loss, corrupted
from lmlab.training.device import Placement
from lmlab.training.optim import build_optimizer
from lmlab.training.parts import TrainingParts, build_parts


def training_parts(config: RunConfig) -> TrainingParts:
    """Tokenizer, model, objectives and batch source of ``config``, as ``train`` builds them."""
    return build_parts(config, prepare_tokenizer(config.data))


@contextmanager
def _reference_attention(model: torch.nn.Module):
    modules = [m for m in model.modules() if hasattr(m, "use_reference")]
    saved = [m.use_reference for m in modules]
    for module in modules:
        module.use_reference = True
    try:
        yield
    finally:
        for module, value in zip(modules, saved):
            module.use_reference = value


def _backward_micro_batches(parts: TrainingParts, config: RunConfig, step: int) -> int:
    """Forward + backward of the ``grad_accum`` micro-batches of ``step``; returns tokens."""

    tokens = 0
    for micro in range(config.train.grad_accum):
        index = step * config.train.grad_accum + micro
        batch = corrupted(parts.objectives, parts.batches.batch(index))
        loss, _ = combined_loss(parts.model, parts.objectives, batch)
        loss.backward()
        tokens += batch["input_ids"].numel()
    return tokens


def _addmm_inplace_flops(bias_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """``C.addmm_(A, B)``: (m, k) @ (k, n); the counter knows only out-of-place addmm."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def flops_per_step(parts: TrainingParts, config: RunConfig, step: int = 0) -> int:
    """Counted forward + backward FLOPs of one optimizer step (batch ``step``)."""
    from torch.utils.flop_counter import FlopCounterMode

    parts.model.train()
    # The fused LM-head loss accumulates its weight gradient with addmm_ (in place).
    extra = {torch.ops.aten.addmm_: _addmm_inplace_flops}
    with _reference_attention(parts.model), \
            FlopCounterMode(display=False, custom_mapping=extra) as counter:
        _backward_micro_batches(parts, config, step)
    parts.model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def time_steps(parts: TrainingParts, config: RunConfig, steps: int, warmup: int = 2,
               where: Placement | None = None) -> dict:
    """Seconds per optimizer step (AdamW, clipping as configured) and tokens per second, on
    the parts' device under ``where``'s autocast (the training loop's placement; CPU fp32
    when None). The device is synchronised before each clock read."""
    where = where or Placement(torch.device("cpu"), "fp32")
    optimizer = build_optimizer(parts.model, config.train)
    parts.model.train()
    tokens, started = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            _synchronize(where.device)
            tokens, started = 0, time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        for micro in range(config.train.grad_accum):
            index = step * config.train.grad_accum + micro
            batch = where.move(corrupted(parts.objectives, parts.batches.batch(index)))
            with where.autocast():
                loss, _ = combined_loss(parts.model, parts.objectives, batch)
            loss.backward()
            tokens += batch["input_ids"].numel()
        if config.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(parts.model.parameters(), config.train.grad_clip)
        optimizer.step()
    _synchronize(where.device)
    seconds = time.perf_counter() - started
    return {"seconds_per_step": seconds / steps, "tokens_per_s": tokens / seconds}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
