"""Find preset YAML files: a path, or a ``family/size`` name under ``configs/``."""

from __future__ import annotations

from pathlib import Path

from lmlab.errors import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"
NOT_PRESETS = ("suites",)
"""Folders of ``configs/`` that hold other files (``lmlab compare`` suites), not presets."""


def preset_names() -> list[str]:
    """Every ``family/size`` preset under ``configs/``."""
    return sorted(p.relative_to(CONFIGS_DIR).as_posix()[:-5] for p in CONFIGS_DIR.glob("*/*.yaml")
                  if p.parent.name not in NOT_PRESETS)


def preset_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.exists():
        return path
    candidate = CONFIGS_DIR / (name_or_path if name_or_path.endswith(".yaml") else f"{name_or_path}.yaml")
    if candidate.exists():
        return candidate
    known = ", ".join(preset_names())
    raise ConfigError(f"{name_or_path}: no such config file or preset (presets: {known})")
