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
from lmlab.training.loop import WEIGHT_LIMIT
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


# --- 1. divergence keeps a good checkpoint, and says which -------------------------------

def test_a_huge_learning_rate_writes_no_poisoned_checkpoint(tiny_corpus, tmp_path):
    """lr 1e6 with a checkpoint every step: the first update already throws the weights
    past the limit, so nothing is saved and the message says so."""
    run = tmp_path / "huge"
    config = tiny_config("gpt/tiny", tiny_corpus, steps=6, every=1)
    config.train.lr = 1e6
    with pytest.raises(TrainingDiverged, match="no checkpoint had been written") as caught:
        train(config, run, log=_quiet)
    assert "\n" not in str(caught.value)
    assert not (run / "checkpoint").exists()


def test_divergence_after_a_checkpoint_keeps_it_and_a_lower_lr_resumes(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=1), run, log=_quiet)
    sane = _max_weight(run)
    with pytest.raises(TrainingDiverged) as caught:
        train(None, run, resume=True, log=_quiet,
              overrides_after_resume=["train.lr=1e6", "train.max_steps=6"])
    message = str(caught.value)
    assert f"checkpoint (step 2) in {run / 'checkpoint'} is kept" in message, message
    assert _max_weight(run) == sane < WEIGHT_LIMIT
    result = train(None, run, resume=True, log=_quiet, overrides_after_resume=["train.max_steps=4"])
    assert result.steps == 4 and _max_weight(run) < WEIGHT_LIMIT


# --- 2. --set on resume: the changeable keys apply, the others are refused ---------------

def test_resume_applies_changeable_overrides_in_both_forms(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=_quiet)
    code, err = _cli(capsys, "train", "--resume", run, "--set", "train.max_steps=3",
                     "--set", "train.checkpoint_every=1")
    assert code == 0, err
    assert torch.load(run / "checkpoint" / "trainer_state.pt", weights_only=True)["step"] == 3
    assert ckpt.load_checkpoint_config(run / "checkpoint").train.checkpoint_every == 1
    same_model = [f"--set={o}" for o in tiny_overrides("gpt/tiny", tiny_corpus, 2, 2)]
    code, err = _cli(capsys, "train", "gpt/tiny", *same_model, "--resume", run,
                     "--set", "train.max_steps=4", "--set", "train.lr=0.002")
    assert code == 0, err
    assert torch.load(run / "checkpoint" / "trainer_state.pt", weights_only=True)["step"] == 4
    assert ckpt.load_checkpoint_config(run / "checkpoint").train.lr == 0.002


def test_resume_refuses_overrides_that_cannot_change_in_both_forms(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=_quiet)
    before = (run / "checkpoint" / "model.safetensors").read_bytes()
    same_model = [f"--set={o}" for o in tiny_overrides("gpt/tiny", tiny_corpus, 2, 2)]
    for config in ([], ["gpt/tiny", *same_model]):
        for key in ("train.seed=5", "data.seq_len=16", "train.optimizer=sgd"):
            code, err = _cli(capsys, "train", *config, "--resume", run,
                             "--set", "train.max_steps=4", "--set", key)
            assert code == 1 and err.count("\n") == 0, err
            assert key.split("=")[0] in err and "train.max_steps" in err  # the allowed keys
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == before


# --- 3. a torn last line of metrics.jsonl ------------------------------------------------

def test_a_torn_metrics_line_is_dropped_and_reported(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=_quiet)
    torn = len((run / "metrics.jsonl").read_text().splitlines()) + 1
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"step": 3, "loss": 4.2, "lr"')  # killed mid-write
    said = []
    result = train(None, run, resume=True, log=said.append, overrides_after_resume=["train.max_steps=3"])
    assert result.steps == 3
    assert any("metrics.jsonl" in line and f"line {torn}" in line and "dropped" in line for line in said), said
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "loss" in row] == [1, 2, 3]


# --- 4. fsync before the renames ---------------------------------------------------------

def _record_syncs(monkeypatch) -> list:
    """Log each fsync'd path (Linux: /proc/self/fd) and each rename, in order."""
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source, target):
        events.append(("replace", str(source)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to name fds")
def test_checkpoint_files_and_folder_are_synced_before_the_swap(tiny_corpus, tmp_path, monkeypatch):
    """Whether the data reached the disk cannot be tested without pulling the power; this
    checks that every file and the folder were fsync'd before the rename publishing them."""
    run = tmp_path / "run"
    events = _record_syncs(monkeypatch)
    train(tiny_config("gpt/tiny", tiny_corpus, steps=1, every=1), run, log=_quiet)
    published = [i for i, (kind, path) in enumerate(events)
                 if kind == "replace" and Path(path).name.startswith(".checkpoint-")]
    assert len(published) == 1
    temporary = events[published[0]][1]
    synced = {path for kind, path in events[:published[0]] if kind == "fsync"}
    final = str(run / "checkpoint")
    wanted = {str(path).replace(final, temporary) for path in Path(final).rglob("*")}
    assert wanted and wanted <= synced, wanted - synced  # files and sub-folders (tokenizer/)
    assert temporary in synced
    assert ("fsync", str(run)) in events[published[0]:]  # the renames themselves


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to name fds")
def test_write_json_syncs_and_writes(tmp_path, monkeypatch):
    events = _record_syncs(monkeypatch)
    atomic.write_json(tmp_path / "a" / "x.json", {"k": "é"})
    assert json.loads((tmp_path / "a" / "x.json").read_text(encoding="utf-8")) == {"k": "é"}
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    assert events[-1][1] == str(tmp_path / "a")


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
