"""What a compression method is to ``lmlab compress`` (issue 20): a name, its settings with
defaults, a check of them, and a function from the loaded fine-tuned run to the compressed
model. A post-training transform (k-means, magnitude, dynamic int8, head pruning) changes
the model it is given; a training method (distillation, quantization-aware training) trains
a new one. Every method returns a :class:`Compressed`; the recipe saves it as a run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from lmlab.errors import ConfigError


@dataclass
class Source:
    """The fine-tuned run being compressed, loaded (``config``: its FinetuneRunConfig)."""
    path: Path
    config: Any
    tokenizer: Any
    model: nn.Module
    out: Path
    """The output run folder (a training method keeps its seed folders there)."""
    log: Callable[[str], None] = lambda message: None


@dataclass
class Compressed:
    model: nn.Module
    config: Any
    """The output run's FinetuneRunConfig (model shape and ``quantization`` as changed)."""
    size_bits: int
    """Estimated size of a compact encoding of the model (see docs/compression.md)."""
    files: dict = field(default_factory=dict)
    """Extra safetensors files written beside the run: {file name: {tensor name: tensor}}."""
    summary: dict = field(default_factory=dict)
    """Extra entries of compression.json (training history, teacher scores, ...)."""


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    defaults: dict
    """Every setting and its default; ``--set NAME=VALUE`` may give any of them."""
    compress: Callable[[Source, dict], Compressed]
    check: Callable[[dict], None] = lambda settings: None
    """A one-line :class:`~lmlab.errors.ConfigError` for a bad setting value."""

    def settings(self, given: dict) -> dict:
        """``given`` over the defaults, each name checked, then :attr:`check`."""
        for name in given:
            if name not in self.defaults:
                known = ", ".join(self.defaults) or "none"
                raise ConfigError(f"--set {name} (or --{name.replace('_', '-')}): not a setting "
                                  f"of --method {self.name}; expected one of: {known}")
        settings = {**self.defaults, **given}
        self.check(settings)
        return settings


RETRAIN = {"finetune_epochs": 0.0, "finetune_lr": 2e-5, "finetune_examples": 0}
"""Settings of a post-training method's fine-tuning after compression (``lmlab.finetune.
retrain``): 0 epochs = none, 0 examples = the whole train split."""


def check_retrain(settings: dict) -> None:
    for name in RETRAIN:
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"--set {name}={value!r}: expected a number >= 0")
