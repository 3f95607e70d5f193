"""Resume exactness (DESIGN §4): interrupted + resumed == uninterrupted, bit for bit."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train

from helpers import tiny_config, tiny_overrides


def _weights(run_dir):
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def _assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("preset", ["lstm/small", "bert/tiny", "roberta/tiny", "albert/tiny",
                                    "electra/tiny", "unilm/tiny", "spanbert/tiny",
                                    "structbert/tiny", "ernie/tiny", "ernie2/tiny", "bert_wwm/tiny",
                                    "bert_zh/tiny", "bert_wwm_zh/tiny", "mass/tiny",
                                    "context2vec/tiny",
                                    "bart/tiny", "t5/tiny", "xlnet/tiny", "sa_lstm/tiny",
                                    "elmo/tiny", "xlm/tiny", "mbert/tiny",
                                    "unicoder/tiny", "multifit/tiny",
                                    "xlmr/tiny", "ernie_thu/tiny", "knowbert/tiny"])
def test_interrupted_then_resumed_run_is_bit_identical(preset, tiny_corpus, tmp_path, monkeypatch):
    steps = 8
    train(tiny_config(preset, tiny_corpus, steps, every=2), tmp_path / "full", log=lambda *_: None)

    real_save = ckpt.save_checkpoint

    def save_then_die(run_dir, model, config, tokenizer, state):
        real_save(run_dir, model, config, tokenizer, state)
        if state["step"] == steps // 2:
            raise _Interrupted  # as if the process were killed right after this write

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_die)
    with pytest.raises(_Interrupted):
        train(tiny_config(preset, tiny_corpus, steps, every=2), tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    state_path = tmp_path / "cut" / "checkpoint" / "trainer_state.pt"
    assert torch.load(state_path, weights_only=True)["step"] == steps // 2
    result = train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    assert result.steps == steps
    _assert_identical(_weights(tmp_path / "full"), _weights(tmp_path / "cut"))


def test_resume_after_a_swap_interrupted_twice_is_bit_identical(tiny_corpus, tmp_path, monkeypatch):
    """Killed between the two renames of the step-4 save (only checkpoint.previous is
    complete), then killed again while the resumed run's step-4 save deletes that folder:
    the run must still resume, from step 2, and end bit-identical."""
    steps = 8
    train(tiny_config("gpt/tiny", tiny_corpus, steps, every=2), tmp_path / "full", log=lambda *_: None)
    real_save, real_replace, real_rmtree = ckpt.save_checkpoint, os.replace, shutil.rmtree
    saving = {"step": None, "renames": 0}

    def save(run_dir, model, config, tokenizer, state):
        saving.update(step=state["step"], renames=0)
        real_save(run_dir, model, config, tokenizer, state)
        saving["step"] = None

    def replace_then_die(source, target):
        real_replace(source, target)
        saving["renames"] += saving["step"] == steps // 2
        if saving["renames"] == 1:
            raise _Interrupted  # checkpoint/ is now checkpoint.previous/, the new one not in

    def delete_half_then_die(path, *args, **kwargs):
        path = Path(path)
        if saving["step"] == steps // 2 and path.name == "checkpoint.previous":
            (path / "trainer_state.pt").unlink()  # rmtree killed half-way
            raise _Interrupted
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(ckpt, "save_checkpoint", save)
    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(_Interrupted):
        train(tiny_config("gpt/tiny", tiny_corpus, steps, every=2), tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not (tmp_path / "cut" / "checkpoint").exists()
    (tmp_path / "cut" / ".checkpoint-killed").mkdir()  # what a SIGKILL in a save leaves
    monkeypatch.setattr(shutil, "rmtree", delete_half_then_die)
    with pytest.raises(_Interrupted):  # resumed at step 2, interrupted in the step-4 save
        train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    result = train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    assert result.steps == steps
    _assert_identical(_weights(tmp_path / "full"), _weights(tmp_path / "cut"))
    assert not list((tmp_path / "cut").glob(".checkpoint-*"))  # a killed save's folder is removed


# The subprocess tests fix what the processes' numerics depend on besides the code: the
# intra-op thread count (CPU reductions sum in a thread-count-dependent order, and a run
# at 1 thread parts from one at 2 within a few steps), no dynamic thread adjustment by
# OpenMP or MKL (the conditions MKL documents for run-to-run reproducibility), the hash
# seed, and one entry script for every process, so all import the same modules in the same
# order. The kill is deterministic: the process kills itself right after a given save.
# MKL_CBWR: Intel MKL's conditional numerical reproducibility. Without it MKL may pick
# code paths by the arrays' memory alignment, which differs from process to process; STRICT
# makes its results independent of alignment. Two fresh processes twice parted here (CI,
# 2026-12-05: a step-1 loss 16 ulps off; 2026-12-06: equal losses, final weights not).
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OMP_DYNAMIC": "FALSE",
           "MKL_DYNAMIC": "FALSE", "MKL_CBWR": "AUTO,STRICT", "PYTHONHASHSEED": "0"}
_STEPS, _EVERY = 12, 3
_ENTRY = textwrap.dedent("""
    import os, signal, sys
    from lmlab.training import checkpoint as ckpt
    kill_after = int(os.environ.get("LMLAB_TEST_KILL_AFTER_SAVE", "0"))
    real = ckpt.save_checkpoint
    def save_then_kill(run_dir, model, config, tokenizer, state):
        real(run_dir, model, config, tokenizer, state)
        if state["step"] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    ckpt.save_checkpoint = save_then_kill
    from lmlab.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _lmlab_train(args: list[str], kill_after_save: int = 0, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, **THREADS, "LMLAB_TEST_KILL_AFTER_SAVE": str(kill_after_save), **env}
    return subprocess.run([sys.executable, "-c", _ENTRY, "train", *args], env=env,
                          capture_output=True, text=True)


def _train_args(tiny_corpus) -> list[str]:
    overrides = tiny_overrides("gpt/tiny", tiny_corpus, _STEPS, every=_EVERY)
    return ["gpt/tiny", *[f"--set={o}" for o in overrides]]


@pytest.fixture(scope="module")
def uninterrupted(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "full"
    done = _lmlab_train([*_train_args(tiny_corpus), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    return out


def _kill_then_resume(tiny_corpus, out, **resume_env):
    """SIGKILL the run right after its step-6 checkpoint, then resume it to the end."""
    killed = _lmlab_train([*_train_args(tiny_corpus), "--out", str(out)],
                          kill_after_save=_STEPS // 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _lmlab_train(["--resume", str(out)], **resume_env)
    assert resumed.returncode == 0, resumed.stderr


def _assert_same_run(full, cut):
    # Step by step first, so that a failure names the first step where the runs part.
    # Every step from the resumed process must match bit for bit. The steps before the kill
    # were computed by two fresh processes, not by a resume: once (CI, 2026-12-05) the very
    # first process of a suite logged a step-1 loss 16 ulps off while all its later losses
    # and its final weights agreed bit for bit with the others' (a logged-value wobble of a
    # fresh process, not resume state); those steps are held to 1e-5 relative.
    full_losses, cut_losses = _losses(full), _losses(cut)
    assert [step for step, _ in cut_losses] == list(range(1, _STEPS + 1))  # no step twice
    parted = [step for (step, a), (_, b) in zip(full_losses, cut_losses)
              if (a != b if step > _STEPS // 2 else abs(a - b) > 1e-5 * abs(a))]
    assert not parted, f"losses part at step {parted[0]}: full {full_losses}, resumed {cut_losses}"
    _assert_identical(_weights(full), _weights(cut))


def test_killed_process_resumes_exactly(tiny_corpus, uninterrupted, tmp_path):
    """A real SIGKILL of the training process right after its step-6 checkpoint."""
    _kill_then_resume(tiny_corpus, tmp_path / "cut")
    _assert_same_run(uninterrupted, tmp_path / "cut")


def test_resume_keeps_the_runs_thread_count(tiny_corpus, uninterrupted, tmp_path):
    """Resumed in a process started with 1 thread, the run continues with the 2 it was
    saved with (train.num_threads unset), so it still ends bit-identical."""
    _kill_then_resume(tiny_corpus, tmp_path / "cut", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    _assert_same_run(uninterrupted, tmp_path / "cut")


def _losses(run_dir) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(row["step"], row["loss"]) for row in rows if "loss" in row]
