"""``lmlab compress --method rpp`` (issue 20): reweighted proximal pruning (Guo et al. 2019,
:mod:`lmlab.compression.pruning.rpp`).

Stage 1 trains the fine-tuned run further on its task by the one training loop with the
reweighted ℓ1 proximal step after every optimizer step (γ ``gamma``, α re-estimated every
``reweight_every`` steps); its last weights are kept (one evaluation an epoch, at its end:
selecting on dev would favour an early, denser step). Then the ``sparsity`` share of the
encoder's weights with the smallest magnitude is masked (one global threshold, as the
magnitude method) and ``finetune_epochs`` fine-tunes the masked model with the zeros kept
(:mod:`lmlab.finetune.retrain`; the masks are saved as ``masks.safetensors``).
"""

from __future__ import annotations

import dataclasses
import time

import torch

from lmlab.compression.method import RETRAIN, Compressed, Method, Source, check_retrain
from lmlab.compression.pruning.magnitude import (MASKS_FILE, check_sparsity, magnitude_masks,
                                                 sparse_bits)
from lmlab.compression.pruning.rpp import ReweightedProximal, check_rpp, encoder_matrices
from lmlab.errors import ConfigError
from lmlab.evaluation.metrics import headline
from lmlab.finetune import distill
from lmlab.finetune.job import score
from lmlab.objectives.base import LossOutput


class ProximalObjective:
    """The head's task loss; carries the proximal step's state into checkpoints."""

    def __init__(self, proximal: ReweightedProximal):
        self.proximal = proximal

    def __call__(self, model, batch: dict) -> LossOutput:
        return LossOutput(model.head.loss(model(batch), batch), {})

    def state_dict(self) -> dict:
        return self.proximal.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.proximal.load_state_dict(state)


def _zero_share(weights: dict) -> float:
    total = sum(w.numel() for w in weights.values())
    return round(sum(int((w == 0).sum()) for w in weights.values()) / max(1, total), 4)


def rpp(source: Source, settings: dict) -> Compressed:
    started = time.perf_counter()
    model = source.model
    weights = encoder_matrices(model)
    if not weights:
        raise ConfigError(f"{source.path}: RPP prunes the encoder's weight matrices; this "
                          f"model has none")
    config = dataclasses.replace(source.config,
                                 options=distill.run_options(source.config, settings),
                                 base=f"rpp:{source.path}")
    data = distill.task_features(source, config, settings["max_train_examples"])
    teacher_dev, _ = score(model, data[0], *data[2], source.config, source.tokenizer)
    proximal = ReweightedProximal(weights, settings["gamma"], settings["epsilon"],
                                  settings["reweight_every"])
    with proximal.active():
        stage = distill.train_stage("rpp", model, config, source, data,
                                    ProximalObjective(proximal), settings["epochs"],
                                    {**settings, "evals_per_epoch": 1})
    model.cpu()
    weights = encoder_matrices(model)
    exact_zeros = _zero_share(weights)
    masks = magnitude_masks(weights, settings["sparsity"], "global")
    with torch.no_grad():
        for name, weight in weights.items():
            weight.mul_(masks[name].to(weight.dtype))
    masked_dev, _ = score(model, data[0], *data[2], config, source.tokenizer)
    source.log(f"rpp: {exact_zeros:.1%} of the encoder weights exactly 0 after the proximal "
               f"steps; masked to {settings['sparsity']:.0%}: dev {masked_dev}")
    return Compressed(model, config, sparse_bits(model, masks),
                      files={MASKS_FILE: {n: m.to(torch.uint8) for n, m in masks.items()}},
                      summary={"teacher": {"dev": teacher_dev}, "rpp_dev": stage["best"],
                               "zero_after_proximal": exact_zeros, "masked_dev": masked_dev,
                               "score_vs_teacher": round(100 * headline(masked_dev) /
                                                         headline(teacher_dev), 2),
                               "stages": [stage],
                               "seconds": round(time.perf_counter() - started, 1)})


def _check(settings: dict) -> None:
    distill.check(settings)
    check_rpp(settings["gamma"], settings["epsilon"], settings["reweight_every"])
    check_sparsity(settings["sparsity"], "global")
    check_retrain(settings)


RPP = Method("rpp", "reweighted proximal pruning: reweighted L1 proximal steps after each "
             "optimizer step, then a magnitude mask and fine-tuning (Guo et al. 2019)",
             {**{k: v for k, v in distill.COMMON.items()
                 if k not in ("student_layers", "init", "layer_map")},
              "epochs": 1.0, "lr": 2e-5, "gamma": 0.01, "epsilon": 1e-3, "reweight_every": 50,
              "sparsity": 0.5, **RETRAIN}, rpp, _check)
