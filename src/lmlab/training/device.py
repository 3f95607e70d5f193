"""Where and in what precision the loop computes (``train.device``, ``train.precision``).

One code path for every device: the model and each batch are moved with ``.to(device)``
(a no-op on CPU, so CPU tests run the same lines a GPU run does) and the forward pass runs
under :func:`torch.autocast` when the precision is not fp32. fp16 needs a gradient scaler
(Micikevicius et al. 2018) because its range underflows small gradients; bf16 does not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from lmlab.errors import ConfigError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    precision: str  # fp32 | bf16 | fp16 (resolved)

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only for fp16 (a pass-through otherwise)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def move(self, batch: dict) -> dict:
        if self.device.type == "cpu":
            return batch
        return {key: value.to(self.device, non_blocking=True) if torch.is_tensor(value) else value
                for key, value in batch.items()}


def resolve_device(name: str, path: str = "train.device") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{path}: {name} was asked for, but this torch "
                              f"({torch.__version__}) sees no CUDA GPU; use auto or cpu")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{path}: {name} does not exist ({torch.cuda.device_count()} "
                              f"CUDA devices: cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{path}: mps was asked for, but no Apple GPU is available; use "
                          f"auto or cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device, path: str = "train.precision") -> str:
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(f"{path}: fp16 needs a CUDA device (it is on {device.type}); use "
                          f"fp32, or bf16")
    return name


def placement(train_config) -> Placement:
    device = resolve_device(train_config.device)
    return Placement(device, resolve_precision(train_config.precision, device))
