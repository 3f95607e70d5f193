"""Presets and suites are package data (importlib.resources), found by name; a user's own
file of the same name wins."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

import lmlab
from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.presets import packaged_path, preset_names, preset_path, suite_names, suite_path
from lmlab.recipes.compare_suite import load_suite


def test_every_packaged_preset_is_named_and_loads():
    root = files("lmlab") / "configs"
    on_disk = {f"{family.name}/{file.name[:-5]}" for family in root.iterdir()
               if family.is_dir() and family.name not in ("suites", "multimodal")
               for file in family.iterdir() if file.name.endswith(".yaml")}
    names = preset_names()
    assert set(names) == on_disk and len(names) >= 21
    assert {"gpt/tiny", "bert/tiny", "electra/tiny", "ernie/tiny", "lstm/large"} <= set(names)
    package = Path(lmlab.__file__).resolve().parent
    for name in names:
        path = preset_path(name)
        assert path.resolve().is_relative_to(package)  # inside the package, not a checkout
        config = load_config(path)
        # The family shown in tables is the preset's own folder (electra/tiny said roberta).
        assert config.model.family == name.split("/")[0], name


def test_preset_name_with_or_without_yaml_suffix():
    assert preset_path("gpt/tiny") == preset_path("gpt/tiny.yaml") == packaged_path("gpt/tiny.yaml")


def test_user_path_wins_over_a_packaged_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "gpt" / "tiny.yaml"
    own.parent.mkdir()
    own.write_text(preset_path("gpt/tiny").read_text().replace("num_layers: 2", "num_layers: 1"))
    assert preset_path("gpt/tiny.yaml") == Path("gpt/tiny.yaml")
    assert load_config(preset_path("gpt/tiny.yaml")).model.encoder.num_layers == 1
    assert preset_path(str(own)) == own
    assert preset_path("gpt/tiny") == packaged_path("gpt/tiny.yaml")  # no such file here


def test_unknown_preset_lists_the_packaged_names():
    with pytest.raises(ConfigError, match=r"nosuch/tiny: no such config file or preset .*gpt/tiny"):
        preset_path("nosuch/tiny")


def test_suite_resolves_by_name_or_path(tmp_path, monkeypatch):
    assert suite_names() == ["suites/compression", "suites/crosslingual", "suites/feature_based",
                             "suites/knowledge", "suites/multimodal", "suites/objectives",
                             "suites/objectives_zh", "suites/seq2seq"]
    packaged = packaged_path("suites/objectives.yaml")
    for name in ("suites/objectives", "objectives", "objectives.yaml", "suites/objectives.yaml"):
        assert suite_path(name) == packaged, name
    assert load_suite("objectives").name == load_suite(str(packaged)).name == "objectives"
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "objectives.yaml"
    own.write_text(packaged.read_text().replace("name: objectives", "name: mine"))
    assert suite_path("objectives.yaml") == Path("objectives.yaml")
    assert load_suite("objectives.yaml").name == "mine"
    assert load_suite("suites/objectives").name == "objectives"


def test_unknown_suite_lists_the_packaged_suites():
    with pytest.raises(ConfigError, match=r"objectivs: no such suite .*suites/objectives"):
        suite_path("objectivs")
    with pytest.raises(ConfigError, match="no such suite"):
        suite_path("gpt/tiny")  # a preset is not a suite
