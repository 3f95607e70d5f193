"""Issue 16, "Nothing lost, nothing silently wrong": what a bad setting, a torn log line or
a crash leaves behind is either usable or refused in one line."""

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab import atomic
from lmlab.cli import main
from lmlab.config import load_config
from lmlab.errors import TrainingDiverged
from lmlab.presets import preset_path
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train

from helpers import tiny_config, tiny_overrides


def _quiet(*_):
    pass


def _max_weight(run_dir: Path) -> float:
    weights = load_file(str(run_dir / "checkpoint" / "model.safetensors"))
    return max(tensor.abs().max().item() for tensor in weights.values())


def _cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    return code, capsys.readouterr().err.strip()


# --- 5. seq_len beyond the model's positions ---------------------------------------------

def test_seq_len_beyond_max_positions_is_one_line_and_creates_nothing(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = _cli(capsys, "train", "gpt/tiny", "--data", tiny_corpus, "--out", out,
                     "--set", "data.seq_len=80", "--set", "model.embedding.max_positions=64")
    assert code == 1 and err.count("\n") == 0, err
    assert "data.seq_len" in err and "max_positions" in err and "64" in err
    assert not out.exists()


def test_seq_len_is_free_without_positions(tiny_corpus):
    """Recurrent models have no position table: any seq_len is allowed."""
    config = tiny_config("lstm/small", tiny_corpus)
    assert config.model.embedding.position == "none"
    overrides = [*tiny_overrides("lstm/small", tiny_corpus, 2, 2), "data.seq_len=1000",
                 "model.embedding.max_positions=64"]
    assert load_config(preset_path("lstm/small"), overrides).data.seq_len == 1000
