"""Students built from a teacher by choosing its layers, and the layer maps of the
intermediate losses.

Layers are numbered from 1 (layer 0 = the embedding output), as the papers do:
- ``every_other`` (DistilBERT, Sanh et al. 2019 §3: "taking one layer out of two"):
  student layer m starts from teacher layer 1 + (m − 1)·N/M (1, 3, 5 of 6 for M = 3);
- ``first`` (BERT-PKD, Sun et al. 2019 §4.1: the first k layers): 1..M;
- ``uniform`` (TinyBERT's mapping n = g(m) = m·N/M, Jiao et al. 2020 §3.1; BERT-PKD-Skip):
  2, 4, 6 of 6 for M = 3;
- ``last`` (BERT-PKD-Last): N − M + 1..N;
- or an explicit increasing list of M teacher layers.
"""

from __future__ import annotations

import copy
import dataclasses

from torch import nn

from lmlab.errors import ConfigError

LAYER_CHOICES = ("every_other", "first", "uniform", "last")


def teacher_layers(choice, teacher: int, student: int, name: str) -> list[int]:
    """The teacher layer (1..N) of each student layer 1..M for ``choice``; a one-line
    ConfigError (naming the setting ``name``) when it does not fit."""
    if not isinstance(student, int) or isinstance(student, bool) or not 1 <= student <= teacher:
        raise ConfigError(f"--set student_layers={student}: a student of a {teacher}-layer "
                          f"teacher has 1 to {teacher} layers")
    if isinstance(choice, list):
        fits = (len(choice) == student and all(isinstance(i, int) and 1 <= i <= teacher
                                                for i in choice)
                and all(a < b for a, b in zip(choice, choice[1:])))
        if not fits:
            raise ConfigError(f"--set {name}={choice}: expected {student} increasing teacher "
                              f"layers from 1 to {teacher}, one per student layer")
        return list(choice)
    step = teacher / student
    maps = {"every_other": [1 + int((m - 1) * step) for m in range(1, student + 1)],
            "first": list(range(1, student + 1)),
            "uniform": [int(m * step) for m in range(1, student + 1)],
            "last": list(range(teacher - student + 1, teacher + 1))}
    if choice not in maps:
        raise ConfigError(f"--set {name}={choice}: expected one of {', '.join(LAYER_CHOICES)} "
                          f"or a list of {student} teacher layers")
    return maps[choice]


def encoder_layers(model: nn.Module, path: str) -> nn.ModuleList:
    """The transformer layers of a fine-tuned model; a one-line error for other encoders
    or shared layers (ALBERT: one layer's weights, nothing to choose)."""
    encoder = model.backbone.encoder
    layers = getattr(encoder, "layers", None)
    config = getattr(encoder, "config", None)
    if layers is None or getattr(config, "name", "") != "transformer" or \
            getattr(encoder, "decoder", None) is not None:
        raise ConfigError(f"{path}: distillation by layer choice needs a transformer encoder "
                          f"(BERT-like), got {getattr(config, 'name', type(encoder).__name__)}")
    if config.share_layers != "none":
        raise ConfigError(f"{path}: the teacher shares its layers ({config.share_layers}); "
                          f"a student cannot choose among them")
    return layers


def student_from_teacher(teacher: nn.Module, run_config, chosen: list[int]):
    """(student model, its run config): a copy of ``teacher`` (embedding, head and
    pooler included) keeping only the teacher layers ``chosen`` (1-based), in order."""
    student = copy.deepcopy(teacher)
    layers = student.backbone.encoder.layers
    student.backbone.encoder.layers = nn.ModuleList(layers[i - 1] for i in chosen)
    encoder = dataclasses.replace(run_config.model.encoder, num_layers=len(chosen))
    student.backbone.encoder.config = encoder
    model = dataclasses.replace(run_config.model, encoder=encoder)
    return student, dataclasses.replace(run_config, model=model)
