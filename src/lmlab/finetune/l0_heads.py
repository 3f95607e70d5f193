"""``lmlab compress --method l0_heads`` (issue 20): Voita et al. 2019's L0-gated heads.

The fine-tuned run trains on its task with a hard-concrete gate on every head
(:class:`~lmlab.compression.pruning.l0.HeadGates`) and the loss L_task + λ · E[‖z‖₀]
(Voita et al. 2019 §6.1 eq. 6; Louizos et al. 2018 eq. 12), by the one training loop.
The weights kept are the last ones (one evaluation a epoch, at its end): selecting on dev
during training would favour an early, denser step. The gates then turn deterministic
(Louizos eq. 13), the heads whose gate is 0 are removed for real and the other gate values
folded into the output projections
(:func:`~lmlab.compression.pruning.l0.fold_and_remove`); ``fraction > 0`` removes instead
exactly that share of all heads, those with the lowest log α (the closed ones first).
``finetune_epochs`` fine-tunes the pruned model afterwards (:mod:`lmlab.finetune.retrain`).
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from lmlab.compression.method import RETRAIN, Compressed, Method, Source, check_retrain
from lmlab.compression.pruning.gates import check_fraction
from lmlab.compression.pruning.heads import attentions
from lmlab.compression.pruning.l0 import HeadGates, check_l0, fold_and_remove
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import distill
from lmlab.finetune.job import score
from lmlab.finetune.post_training import _with_encoder, dense_bits
from lmlab.objectives.base import LossOutput


class L0Objective:
    """loss(model, batch): the head's task loss + λ · E[‖z‖₀] of ``gates``."""

    def __init__(self, gates: HeadGates, penalty: float):
        self.gates, self.penalty = gates, penalty

    def __call__(self, model, batch: dict) -> LossOutput:
        task = model.head.loss(model(batch), batch)
        l0 = self.gates.penalty()
        return LossOutput(task + self.penalty * l0,
                          {"task": float(task.detach()), "expected_l0": float(l0.detach())})


def kept_heads(gates: HeadGates, fraction: float) -> list[torch.Tensor]:
    """Per layer (H_l,) gate values to fold in, 0 for a removed head: ẑ, or with
    ``fraction > 0`` the floor(fraction · total) heads of lowest log α set to 0."""
    gates.eval()
    with torch.no_grad():
        values = [gates.gate(i) for i in range(len(gates.theta))]
        if fraction > 0:
            flat = torch.cat([gates.log_alpha(i) for i in range(len(gates.theta))])
            drop = torch.zeros_like(flat, dtype=torch.bool)
            drop[torch.argsort(flat, stable=True)[:math.floor(fraction * len(flat))]] = True
            values = [torch.where(d, 0.0, v) for d, v in
                      zip(drop.split([len(v) for v in values]), values)]
    return values


def l0_heads(source: Source, settings: dict) -> Compressed:
    started = time.perf_counter()
    model, config = source.model, source.config
    heads = [m.num_heads for m in attentions(model)]  # one-line error: no prunable encoder
    config = dataclasses.replace(config, options=distill.run_options(config, settings),
                                 base=f"l0_heads:{source.path}")
    data = distill.task_features(source, config, settings["max_train_examples"])
    teacher_dev, _ = score(model, data[0], *data[2], source.config, source.tokenizer)
    gates = HeadGates(heads, settings["init_log_alpha"], settings["temperature"],
                      scale=settings["gate_lr"] / settings["lr"])
    model.l0_gates = gates  # trained by the same optimizer, saved in the stage checkpoints
    hooks = gates.attach(model)
    try:
        stage = distill.train_stage("l0_gates", model, config, source, data,
                                    L0Objective(gates, settings["penalty"]), settings["epochs"],
                                    {**settings, "evals_per_epoch": 1})
    finally:
        for hook in hooks:
            hook.remove()
        del model.l0_gates
    model.cpu()
    log_alpha = [gates.log_alpha(i).detach().tolist() for i in range(len(heads))]
    values = kept_heads(gates, settings["fraction"])
    counts = fold_and_remove(model, values)
    source.log(f"l0_heads: heads per layer {heads} -> {counts}")
    pruned_dev, _ = score(model, data[0], *data[2], config, source.tokenizer)
    return Compressed(model, _with_encoder(config, heads_per_layer=counts), dense_bits(model),
                      summary={"heads_per_layer": counts, "log_alpha": log_alpha,
                               "teacher": {"dev": teacher_dev},
                               "gated_dev": stage["best"], "pruned_dev": pruned_dev,
                               "score_vs_teacher": round(100 * headline(pruned_dev) /
                                                         headline(teacher_dev), 2),
                               "stages": [stage],
                               "seconds": round(time.perf_counter() - started, 1)})


def _check(settings: dict) -> None:
    distill.check(settings)
    check_l0(settings["temperature"], settings["init_log_alpha"], settings["penalty"])
    if isinstance(settings["gate_lr"], bool) or not isinstance(settings["gate_lr"], (int, float)) \
            or settings["gate_lr"] <= 0:
        raise ConfigError(f"--set gate_lr={settings['gate_lr']!r}: must be a number > 0")
    check_fraction(settings["fraction"], 1.0, "heads")
    check_retrain(settings)


L0_HEADS = Method("l0_heads", "attention heads gated by hard-concrete L0 gates trained with the "
                  "task loss, closed heads removed for real (Voita et al. 2019; Louizos et al. "
                  "2018)", {**{k: v for k, v in distill.COMMON.items()
                               if k not in ("student_layers", "init", "layer_map")},
                            "epochs": 1.0, "lr": 2e-5, "penalty": 0.01, "gate_lr": 0.05,
                            "init_log_alpha": 3.0, "temperature": 2 / 3, "fraction": 0.0,
                            **RETRAIN}, l0_heads, _check)
