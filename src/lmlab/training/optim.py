"""Optimizers and learning-rate schedules.

Schedules are multiplicative factors of the base rate as a function of the optimizer step:
linear warmup (Goyal et al. 2017; BERT) followed by constant, linear decay to
``min_lr_ratio`` (BERT), cosine decay (Loshchilov & Hutter 2017), or step decay by epochs
(Zaremba et al. 2014: ``lr * decay_rate ** max(epoch + 1 - decay_start_epoch, 0)``).
"""

from __future__ import annotations

import math

import torch


def build_optimizer(model: torch.nn.Module, train, fused: bool = True) -> torch.optim.Optimizer:
    # fused=True: one kernel over all parameters instead of a Python loop of small ops
    # (False for FSDP's sharded DTensor parameters).
    if train.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=train.lr, momentum=train.momentum,
                               weight_decay=train.weight_decay, fused=fused)
    # No weight decay on biases and LayerNorm weights (BERT's AdamWeightDecayOptimizer).
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": train.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=train.lr, betas=tuple(train.betas), eps=train.eps,
                             fused=fused)


def lr_factor(step: int, train, total_steps: int, steps_per_epoch: int) -> float:
    if train.warmup_steps and step < train.warmup_steps:
        return (step + 1) / train.warmup_steps
    if train.schedule == "constant":
        return 1.0
    if train.schedule == "step":
        epoch = step // max(1, steps_per_epoch)
        if epoch < train.decay_start_epoch:  # epochs are 0-based here
            return 1.0
        decays = math.floor((epoch - train.decay_start_epoch) / train.decay_every_epochs) + 1
        return train.decay_rate ** decays
    span = max(1, total_steps - train.warmup_steps)
    progress = min(1.0, (step - train.warmup_steps) / span)
    floor = train.min_lr_ratio
    if train.schedule == "linear":
        return floor + (1.0 - floor) * (1.0 - progress)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer, train, total_steps: int, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, train, total_steps, steps_per_epoch))
