"""Find preset and suite YAML files: the user's own path first, else a name among the
files shipped inside the package (``lmlab/configs/<family>/<size>.yaml``, ``suites/``).

The presets are package data read through :mod:`importlib.resources`, so a wheel or a
non-editable install carries them, not only a source checkout. This module imports only
the standard library and :mod:`lmlab.errors`: low-level readers (ERNIE span files, the
``lmlab compare`` suite) look their files up here without pulling in the rest of lmlab.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from lmlab.errors import ConfigError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE = "lmlab"
CONFIGS = "configs"
SUITES = "suites"
MULTIMODAL = "multimodal"
NOT_PRESETS = (SUITES, MULTIMODAL)
"""Folders of the presets folder that hold other files (``lmlab compare`` suites), or
presets of another schema (``multimodal/<name>``: issue 22's vision-language runs, read by
:mod:`lmlab.multimodal.presets`, listed by :func:`multimodal_preset_names`), not text presets."""


def configs_dir() -> Traversable:
    """The package's presets folder (read on each call: nothing is scanned at import)."""
    return files(PACKAGE) / CONFIGS


def packaged_path(relative: str) -> Path:
    """``relative`` (``ernie/conll2003_spans.txt``) under the presets folder as a real path,
    which may not exist. ``load_config`` and the span reader need a filesystem path;
    setuptools installs package data as plain files (wheel, editable or source tree), so
    the resource's string is one."""
    resource = configs_dir()
    for part in relative.split("/"):
        resource = resource / part
    return Path(str(resource))


def _yaml(name: str) -> str:
    return name if name.endswith(".yaml") else f"{name}.yaml"


def preset_names() -> list[str]:
    """Every packaged ``family/size`` preset."""
    return sorted(f"{family.name}/{file.name[:-5]}"
                  for family in configs_dir().iterdir()
                  if family.is_dir() and family.name not in NOT_PRESETS
                  for file in family.iterdir() if file.name.endswith(".yaml"))


def multimodal_preset_names() -> list[str]:
    """Every packaged vision-language preset, ``multimodal/<name>`` (issue 22)."""
    return sorted(f"{MULTIMODAL}/{file.name[:-5]}"
                  for file in (configs_dir() / MULTIMODAL).iterdir()
                  if file.name.endswith(".yaml"))


def suite_names() -> list[str]:
    """Every packaged ``lmlab compare`` suite, by the name ``lmlab compare`` accepts."""
    return sorted(f"{SUITES}/{file.name[:-5]}" for file in (configs_dir() / SUITES).iterdir()
                  if file.name.endswith(".yaml"))


def preset_path(name_or_path: str) -> Path:
    """A preset YAML: ``name_or_path`` itself when that file exists (the user's own file
    wins over a packaged preset of the same name), else the packaged ``family/size``."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    candidate = packaged_path(_yaml(name_or_path))
    if candidate.is_file():
        return candidate
    known = ", ".join(preset_names() + multimodal_preset_names())
    raise ConfigError(f"{name_or_path}: no such config file or preset (presets: {known})")


def suite_path(name_or_path: str) -> Path:
    """A suite YAML: the user's own file first, else a packaged suite named
    ``suites/objectives`` or just ``objectives`` (``.yaml`` optional)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = name_or_path.removeprefix(f"{SUITES}/")
    candidate = packaged_path(f"{SUITES}/{_yaml(name)}")
    if "/" not in name and candidate.is_file():
        return candidate
    known = ", ".join(suite_names())
    raise ConfigError(f"{name_or_path}: no such suite file or packaged suite (suites: {known})")
