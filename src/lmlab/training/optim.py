"""Optimizers and learning-rate schedules.

Schedules are multiplicative factors of the base rate as a function of the optimizer step:
linear warmup (Goyal et al. 2017; BERT) followed by constant, linear decay to
``min_lr_ratio`` (BERT), cosine decay (Loshchilov & Hutter 2017), or step decay by epochs
(Zaremba et al. 2014: ``lr * decay_rate ** max(epoch + 1 - decay_start_epoch, 0)``), or
the one-cycle policy (Smith 2018, "A disciplined approach to neural network
hyper-parameters"; Smith & Topin 2019) in the cosine variant MultiFiT uses (Eisenschlos et
al. 2019, §3; fastai's ``fit_one_cycle``): with n_1 = round(cycle_rise_fraction · total)
rising steps and a = cycle_start_ratio, m = min_lr_ratio,

    factor(s) = m_0 + (1 − m_0) · (1 − cos(π s / n_1)) / 2                   s < n_1, m_0 = a
    factor(s) = m + (1 − m) · (1 + cos(π (s − n_1) / (total − n_1))) / 2    s ≥ n_1

(fastai also cycles Adam's β1 between 0.95 and 0.85; that is not done here.)
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


def one_cycle_factor(step: int, total_steps: int, rise_fraction: float, start_ratio: float,
                     end_ratio: float) -> float:
    """The one-cycle multiplier of the base rate at ``step`` (module docstring)."""
    rise = min(max(1, round(rise_fraction * total_steps)), max(1, total_steps - 1))
    if step < rise:
        return start_ratio + (1.0 - start_ratio) * (1.0 - math.cos(math.pi * step / rise)) / 2
    progress = min(1.0, (step - rise) / max(1, total_steps - rise))
    return end_ratio + (1.0 - end_ratio) * (1.0 + math.cos(math.pi * progress)) / 2


def lr_factor(step: int, train, total_steps: int, steps_per_epoch: int) -> float:
    if train.schedule == "one_cycle":
        return one_cycle_factor(step, total_steps, train.cycle_rise_fraction,
                                train.cycle_start_ratio, train.min_lr_ratio)
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
