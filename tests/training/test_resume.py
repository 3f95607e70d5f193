"""Resume exactness (DESIGN §4): interrupted + resumed == uninterrupted, bit for bit."""

import json
import os
import signal
import subprocess
import sys
import textwrap

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
                                    "structbert/tiny", "ernie/tiny", "bert_wwm/tiny",
                                    "bert_zh/tiny", "bert_wwm_zh/tiny"])
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


def test_killed_process_resumes_exactly(tiny_corpus, tmp_path):
    """A real SIGKILL of the training process right after its step-6 checkpoint."""
    steps, overrides = 12, tiny_overrides("gpt/tiny", tiny_corpus, 12, every=3)
    args = ["gpt/tiny", *[f"--set={o}" for o in overrides]]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, "-m", "lmlab.cli", "train", *args, "--out",
                    str(tmp_path / "full")], check=True, env=env, capture_output=True)
    killer = textwrap.dedent(f"""
        import os, signal, sys
        from lmlab.training import checkpoint as ckpt
        real = ckpt.save_checkpoint
        def save_then_kill(run_dir, model, config, tokenizer, state):
            real(run_dir, model, config, tokenizer, state)
            if state["step"] == {steps // 2}:
                os.kill(os.getpid(), signal.SIGKILL)
        ckpt.save_checkpoint = save_then_kill
        from lmlab.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    killed = subprocess.run([sys.executable, "-c", killer, "train", *args, "--out",
                             str(tmp_path / "cut")], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run([sys.executable, "-m", "lmlab.cli", "train", "--resume",
                              str(tmp_path / "cut")], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    # Step by step first, so that a failure names the first step where the runs part.
    full, cut = _losses(tmp_path / "full"), _losses(tmp_path / "cut")
    assert [step for step, _ in cut] == list(range(1, steps + 1))  # no step logged twice
    parted = [step for (step, a), (_, b) in zip(full, cut) if a != b]
    assert not parted, f"losses part at step {parted[0]}: full {full}, resumed {cut}"
    _assert_identical(_weights(tmp_path / "full"), _weights(tmp_path / "cut"))


def _losses(run_dir) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(row["step"], row["loss"]) for row in rows if "loss" in row]
