"""``lmlab compress --method albert_share`` (issue 20): ALBERT's cross-layer parameter sharing
(Lan et al. 2020 §3.1) applied to a fine-tuned teacher, the review's sharing row.

The student is the teacher with one set of layer weights used at every depth (the
transformer encoder's ``share_layers: all``, the BERT-family part ALBERT's presets use):
``student_layers`` applications (default: the teacher's depth N) of one layer whose weights
start as the element-wise mean of the teacher's N layers (``init: mean``) or as one teacher
layer (``init: <1..N>``). Embeddings, pooler and head are the teacher's. The student then
trains on the task by the one training loop with the KD loss of :mod:`lmlab.finetune.
distill` (Hinton et al. 2015, α·T²·KL + (1 − α)·CE; ``alpha: 0`` = plain fine-tuning),
model selection on dev. Parameters fall by (N − 1) layers; the compute per sentence does
not (every depth still runs), so the speed column stays near the teacher's.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import torch
from torch import nn

from lmlab.compression.distillation.objective import DistillationObjective, DistillationSettings
from lmlab.compression.distillation.student import encoder_layers
from lmlab.compression.method import Compressed, Method, Source
from lmlab.errors import ConfigError
from lmlab.finetune import distill
from lmlab.finetune.job import score


def shared_layer(layers: nn.ModuleList, init) -> nn.Module:
    """One layer: the mean of ``layers``' parameters (``init: mean``) or layer ``init``
    (1-based); the teacher's layers are not changed."""
    if init != "mean":
        return copy.deepcopy(layers[init - 1])
    layer = copy.deepcopy(layers[0])
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            parameter.copy_(torch.stack([dict(other.named_parameters())[name]
                                         for other in layers]).mean(0))
    return layer


def tie_layers(model: nn.Module, layer: nn.Module, depth: int, run_config):
    """``model`` (in place) with ``depth`` applications of ``layer``, and its run config
    (``share_layers: all``, ``num_layers: depth``)."""
    encoder = dataclasses.replace(run_config.model.encoder, share_layers="all", num_layers=depth)
    model.backbone.encoder.layers = nn.ModuleList([layer] * depth)
    model.backbone.encoder.config = encoder
    return dataclasses.replace(run_config, model=dataclasses.replace(run_config.model,
                                                                     encoder=encoder))


def albert_share(source: Source, settings: dict) -> Compressed:
    started = time.perf_counter()
    teacher = source.model
    layers = encoder_layers(teacher, str(source.path))
    init, depth = settings["init"], settings["student_layers"] or len(layers)
    if init != "mean" and (isinstance(init, bool) or not isinstance(init, int)
                           or not 1 <= init <= len(layers)):
        raise ConfigError(f"--set init={init!r}: expected mean or a teacher layer 1..{len(layers)}")
    config = dataclasses.replace(source.config,
                                 options=distill.run_options(source.config, settings),
                                 base=f"albert_share:{source.path}")
    student = copy.deepcopy(teacher)
    config = tie_layers(student, shared_layer(layers, init), depth, config)
    data = distill.task_features(source, config, settings["max_train_examples"])
    teacher_dev, _ = score(teacher, data[0], *data[2], source.config, source.tokenizer)
    tied_dev, _ = score(student, data[0], *data[2], config, source.tokenizer)
    objective = DistillationObjective(teacher, DistillationSettings(
        "kd", settings["temperature"], settings["alpha"]), list(range(1, depth + 1)))
    stage = distill.train_stage("albert_share", student, config, source, data, objective,
                                settings["epochs"], settings)
    result = distill._result(student, config, teacher_dev, len(layers), [stage], started,
                             {"layers": depth, "shared": "all", "init": init})
    result.summary["tied_dev_before_training"] = tied_dev
    result.summary["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _check(settings: dict) -> None:
    distill.check(settings)
    depth = settings["student_layers"]
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ConfigError(f"--set student_layers={depth!r}: expected an integer >= 0 "
                          f"(0 = the teacher's depth)")


ALBERT_SHARE = Method("albert_share", "ALBERT cross-layer sharing: one layer (the mean of the "
                      "teacher's) used at every depth, then KD fine-tuning (Lan et al. 2020)",
                      {**{k: v for k, v in distill.COMMON.items() if k != "layer_map"},
                       "student_layers": 0, "init": "mean", "epochs": 1.0,
                       "temperature": 2.0, "alpha": 0.5}, albert_share, _check)
