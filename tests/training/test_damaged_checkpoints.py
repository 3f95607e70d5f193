"""Issue 16: a damaged checkpoint, a full disk or an unwritable --out is one line, naming
the file and what was expected, never a traceback (and never a lost checkpoint)."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from helpers import tiny_config

from lmlab.cli import main
from lmlab.errors import CheckpointError, DataError
from lmlab.manifest import MANIFEST
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train


@pytest.fixture(scope="module")
def gpt_run(tiny_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("damaged") / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    return run


@pytest.fixture
def old_run(gpt_run, tmp_path):
    """A copy without a manifest, as an older lmlab wrote it: only the readers can tell."""
    run = tmp_path / "run"
    shutil.copytree(gpt_run, run)
    (run / "checkpoint" / MANIFEST).unlink()
    return run


def _cut(path: Path, keep: float) -> None:
    path.write_bytes(path.read_bytes()[:int(path.stat().st_size * keep)])


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_truncated_weights_are_one_line(old_run, keep):
    _cut(old_run / "checkpoint" / "model.safetensors", keep)
    with pytest.raises(CheckpointError, match=r"checkpoint/model\.safetensors: not a complete "
                                              r"safetensors file .*expected the weights"):
        ckpt.load_run(old_run)


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_truncated_trainer_state_is_one_line(old_run, keep):
    _cut(old_run / "checkpoint" / "trainer_state.pt", keep)
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt: not a readable trainer state"):
        train(None, old_run, resume=True, log=lambda *_: None)


@pytest.mark.parametrize("name", ["tokenizer.json", "lmlab_tokenizer.json"])
@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_truncated_tokenizer_is_one_line(old_run, name, keep):
    _cut(old_run / "checkpoint" / "tokenizer" / name, keep)
    with pytest.raises(DataError, match=rf"tokenizer/{name}: not a readable"):
        ckpt.load_run(old_run)


def test_truncated_files_through_the_cli(old_run, capsys):
    _cut(old_run / "checkpoint" / "model.safetensors", 0.3)
    assert main(["eval", "perplexity", str(old_run), "--max-tokens", "64"]) == 1
    err = capsys.readouterr().err
    warning, error = err.splitlines()  # an old folder: one warning line, one error line
    assert warning.startswith("lmlab: warning: ") and "no manifest.json" in warning
    assert error.startswith("lmlab: error: ") and "model.safetensors" in error


def test_a_full_disk_is_refused_before_the_save(gpt_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(gpt_run, run)
    before = (run / "checkpoint" / "model.safetensors").read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    config, tokenizer, model = ckpt.load_run(run)
    with pytest.raises(CheckpointError, match=r"not enough free disk space for a checkpoint "
                                              r"\(0\.0 MiB free, about [\d.]+ MiB needed\)"):
        ckpt.save_checkpoint(run, model, config, tokenizer, {"step": 3})
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == before
    assert not list(run.glob(".checkpoint-*"))


def test_a_disk_that_fills_during_the_save_names_the_file(gpt_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(gpt_run, run)
    config, tokenizer, model = ckpt.load_run(run)

    def full(state, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt: cannot write the checkpoint: "
                                              r"the disk is full; the last complete checkpoint"):
        ckpt.save_checkpoint(run, model, config, tokenizer, {"step": 3})
    assert not list(run.glob(".checkpoint-*"))
    ckpt.load_run(run)  # the kept one is intact (manifest verified)


def test_stale_temporary_folders_are_removed_on_the_next_start(gpt_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(gpt_run, run)
    (run / ".checkpoint-killed" / "tokenizer").mkdir(parents=True)
    (run / ".checkpoint-killed" / "model.safetensors").write_bytes(b"half")
    messages = []
    train(None, run, resume=True, log=messages.append, overrides_after_resume=["train.max_steps=3"])
    assert not (run / ".checkpoint-killed").exists()
    assert any("removed" in m and ".checkpoint-killed" in m for m in messages)



@pytest.mark.parametrize("where", ["file", "under-file", "read-only"])
def test_train_out_that_cannot_be_written_is_one_line(tiny_corpus, tmp_path, capsys, where,
                                                      unwritable_folder):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = {"file": blocker, "under-file": blocker / "run",
           "read-only": unwritable_folder / "run"}[where]
    code = main(["train", "gpt/tiny", "--out", str(out), "--set", f"data.dataset={tiny_corpus}",
                 "--set", "train.max_steps=1", "--set", "train.progress=false"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("lmlab: error: ") and err.count("\n") == 1, err
    assert str(out if where != "file" else blocker) in err


def test_a_checkpoint_without_config_yaml_says_what_a_checkpoint_holds(old_run, capsys):
    (old_run / "checkpoint" / "config.yaml").unlink()
    assert main(["eval", "perplexity", str(old_run)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the no-manifest warning
    assert err == (f"lmlab: error: {old_run / 'checkpoint'}: no config.yaml; an lmlab "
                   f"checkpoint holds config.yaml, model.safetensors and tokenizer/ (as lmlab "
                   f"train and lmlab finetune write them)")
