"""Multimodal presets and run folders as YAML (issue 22): what ``lmlab train``, ``evaluate``
and ``predict`` read. A multimodal preset is a :class:`~lmlab.multimodal.runs.MultimodalRunConfig`
in YAML; its top-level ``kind`` (``pretrain`` or ``vqa``) is what marks it (text presets
have no ``kind``). Loading is strict like :func:`lmlab.config.load_config`: unknown keys
and bad values are one-line :class:`~lmlab.errors.ConfigError` s naming the file and key.

    kind: pretrain
    model: {architecture: two_stream, hidden_size: 64, visual: {kind: grid}}
    objectives: [{name: mlm_image}, {name: mrm, target: classification}, {name: itm}]
    data: {max_text_length: 16}
    train: {max_steps: 1500, lr: 5.0e-4}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lmlab.config import TrainConfig, apply_override, from_dict, load_raw
from lmlab.errors import ConfigError
from lmlab.multimodal.corpus import MultimodalDataConfig
from lmlab.multimodal.models import MultimodalConfig
from lmlab.multimodal.objectives import MULTIMODAL_OBJECTIVES
from lmlab.training import checkpoint as ckpt

KINDS = ("pretrain", "vqa")


@dataclass
class MultimodalRunConfig:
    kind: Literal["pretrain", "vqa"] = "pretrain"
    model: MultimodalConfig = field(default_factory=MultimodalConfig)
    objectives: list = field(default_factory=list)
    """Pre-training: objective configs (``MULTIMODAL_OBJECTIVES``)."""
    data: MultimodalDataConfig = field(default_factory=MultimodalDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 64
    blank_images: bool = False
    """vqa: every picture white (the question-only baseline)."""
    blank_questions: bool = False
    """vqa: every question empty, ``[CLS] [SEP]`` (the image-only baseline)."""
    init_from: str = ""
    """vqa: a pre-training run folder whose backbone weights start the model."""


def is_multimodal_raw(raw: dict) -> bool:
    return raw.get("kind") in KINDS


def is_multimodal_preset(path: str | Path) -> bool:
    return is_multimodal_raw(load_raw(path))


def is_multimodal_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a multimodal run (its checkpoint's ``kind``)."""
    for folder in (Path(run_dir), Path(run_dir) / ckpt.CHECKPOINT,
                   Path(run_dir) / "checkpoint.previous"):
        if (folder / "config.yaml").is_file():
            return is_multimodal_raw(load_raw(folder / "config.yaml"))
    return False


def config_from_raw(raw: dict, where: str = "config"):
    """A validated MultimodalRunConfig from a raw mapping; errors name ``where``."""
    raw = dict(raw)
    items = raw.pop("objectives", None) or []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: objectives: expected a list of mappings with a 'name'")
    objectives = []
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if name not in MULTIMODAL_OBJECTIVES:
            raise ConfigError(f"{where}: objectives[{index}].name: one of "
                              f"{', '.join(MULTIMODAL_OBJECTIVES)}, got {name!r}")
        try:
            objectives.append(from_dict(MULTIMODAL_OBJECTIVES[name][0], item,
                                        f"objectives[{index}]"))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    try:
        config = from_dict(MultimodalRunConfig, raw)
        config.model.validate()
        config.data.validate()
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    config.objectives = objectives
    if config.kind == "pretrain" and not objectives:
        raise ConfigError(f"{where}: objectives: a pre-training run needs at least one of "
                          f"{', '.join(MULTIMODAL_OBJECTIVES)}")
    if config.kind == "vqa" and objectives:
        raise ConfigError(f"{where}: objectives: a vqa run fine-tunes on answers; leave "
                          f"objectives out")
    return config


def load_multimodal_config(path: str | Path, overrides: list[str] = ()):
    """A preset file plus ``--set key=value`` overrides -> MultimodalRunConfig."""
    raw = load_raw(path)
    for assignment in overrides:
        apply_override(raw, assignment)
    return config_from_raw(raw, str(path))


def load_run_config(run_dir: str | Path, overrides: list[str] = ()):
    """The saved config of a multimodal run folder (for ``--resume``), with overrides;
    only ``train.max_steps`` / ``train.checkpoint_every`` / ``train.log_every`` /
    ``train.eval_every`` may change on resume."""
    allowed = ("train.max_steps", "train.checkpoint_every", "train.log_every",
               "train.eval_every", "train.progress")
    for assignment in overrides:
        key = assignment.split("=", 1)[0].strip()
        if key not in allowed:
            raise ConfigError(f"--set {assignment}: a resumed multimodal run may change only "
                              f"{', '.join(allowed)}")
    folder = ckpt.checkpoint_folder(run_dir)
    return load_multimodal_config(folder / "config.yaml", overrides)
