"""Fine-tuning runs through the one training loop: a fine-tuning killed by SIGKILL and
resumed with ``--resume`` ends bit-identical to one that was never interrupted, and a
second fine-tuning into the same folder is refused."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

from lmlab.cli import main  # noqa: E402

OPTIONS = ["--task", "glue/sst2", "--max-train-examples", "48", "--epochs", "2",
           "--batch-size", "16", "--max-seq-len", "32", "--max-unk-rate", "1", "--quiet",
           "--lr", "1e-3", "--evals-per-epoch", "3", "--seeds", "0", "1", "--threads", "1"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_corpus):
    from lmlab.training.trainer import train

    out = tmp_path_factory.mktemp("runs") / "bert-tiny"
    train(tiny_config("bert/tiny", tiny_corpus, steps=2, every=2), out)
    return out


def _finetune(args, env, kill_at_step=None):
    if kill_at_step is None:
        return subprocess.run([sys.executable, "-m", "lmlab.cli", "finetune", *args],
                              env=env, capture_output=True, text=True)
    killer = textwrap.dedent(f"""
        import os, signal, sys
        from lmlab.training import checkpoint as ckpt
        real = ckpt.save_checkpoint
        def save_then_kill(run_dir, model, config, tokenizer, state):
            real(run_dir, model, config, tokenizer, state)
            # A loop checkpoint of seed 1 (the best-weights copies carry no optimizer).
            if "optimizer" in state and state["step"] == {kill_at_step} and "/1" in str(run_dir):
                os.kill(os.getpid(), signal.SIGKILL)
        ckpt.save_checkpoint = save_then_kill
        from lmlab.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    return subprocess.run([sys.executable, "-c", killer, "finetune", *args], env=env,
                          capture_output=True, text=True)


def test_killed_finetuning_resumes_exactly(base_run, tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full = _finetune([str(base_run), *OPTIONS, "--out", str(tmp_path / "full")], env)
    assert full.returncode == 0, full.stderr
    cut_args = [str(base_run), *OPTIONS, "--out", str(tmp_path / "cut")]
    killed = _finetune(cut_args, env, kill_at_step=3)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "cut" / "seeds" / "0" / "result.json").exists()  # seed 0 finished
    resumed = _finetune([*cut_args, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    want = json.loads((tmp_path / "full" / "results.json").read_text())
    got = json.loads((tmp_path / "cut" / "results.json").read_text())
    for a, b in zip(want["runs"], got["runs"]):  # every evaluation of every seed
        assert [(h["step"], h["loss"], h["accuracy"]) for h in a["history"]] == \
            [(h["step"], h["loss"], h["accuracy"]) for h in b["history"]]
    assert want["scores"] == got["scores"] and want["best_seed"] == got["best_seed"]
    weights = [load_file(tmp_path / name / "checkpoint" / "model.safetensors")
               for name in ("full", "cut")]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
    # Finished seeds keep their scores and log, not their checkpoints.
    assert not (tmp_path / "cut" / "seeds" / "1" / "checkpoint").exists()
    log = (tmp_path / "cut" / "seeds" / "1" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log if "eval_accuracy" in line] == \
        list(range(1, 7))


def test_a_second_finetuning_into_the_same_folder_is_refused(base_run, tmp_path, capsys):
    args = ["finetune", str(base_run), *OPTIONS[:-5], "--seeds", "0", "--out",
            str(tmp_path / "x")]
    assert main(args) == 0
    before = (tmp_path / "x" / "results.json").read_text()
    assert main(args) == 1
    assert "already holds a fine-tuning; continue it with --resume" in capsys.readouterr().err
    assert (tmp_path / "x" / "results.json").read_text() == before
