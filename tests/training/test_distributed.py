"""torchrun with 2 gloo processes on the CPU (issue 17): DDP equals one process with the
whole batch, resumes across world sizes, and a dead rank gives a one-line error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import tiny_overrides

NO_DROPOUT = ["model.embedding.dropout=0", "model.encoder.dropout=0",
              "model.encoder.attention_dropout=0"]


def _command(processes: int) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "lmlab"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", "-m", "lmlab"]


def _environment() -> dict:
    source = str(Path(__file__).parents[2] / "src")
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _train(processes: int, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*_command(processes), "train", *arguments], env=_environment(),
                          capture_output=True, text=True, timeout=300)
    if check and done.returncode:
        raise AssertionError(done.stderr[-3000:])
    return done


def _settings(corpus, steps: int, every: int, *extra: str) -> list[str]:
    overrides = tiny_overrides("gpt/tiny", corpus, steps, every) + NO_DROPOUT + list(extra)
    return [argument for override in overrides for argument in ("--set", override)]


def _weights(run: Path) -> dict:
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def _assert_same_weights(left: Path, right: Path, tolerance: float) -> None:
    a, b = _weights(left), _weights(right)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=tolerance, msg=key)


@pytest.mark.slow
def test_two_ranks_with_half_batches_equal_one_process_with_the_whole(tiny_corpus, tmp_path):
    settings = _settings(tiny_corpus, 5, 5, "data.batch_size=4")
    _train(1, "gpt/tiny", "--out", str(tmp_path / "one"), *settings)
    _train(2, "gpt/tiny", "--out", str(tmp_path / "two"), *settings)
    _assert_same_weights(tmp_path / "one", tmp_path / "two", 1e-6)
    # Only rank 0 wrote: one log line per step, not two.
    logged = [line for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
              if '"loss"' in line]
    assert len(logged) == 5


@pytest.mark.slow
def test_gradient_accumulation_under_ddp_equals_the_whole_batch(tiny_corpus, tmp_path):
    # Each rank: 1 row of each of 2 micro-batches of 2 rows, all-reduced once per step.
    accumulated = _settings(tiny_corpus, 3, 3, "data.batch_size=2", "train.grad_accum=2")
    _train(2, "gpt/tiny", "--out", str(tmp_path / "accumulated"), *accumulated)
    _train(1, "gpt/tiny", "--out", str(tmp_path / "one_accumulated"), *accumulated)
    _assert_same_weights(tmp_path / "one_accumulated", tmp_path / "accumulated", 1e-6)


@pytest.mark.slow
def test_a_run_resumes_from_two_ranks_to_one_and_from_one_to_two(tiny_corpus, tmp_path):
    whole = _settings(tiny_corpus, 6, 3, "data.batch_size=4")
    _train(1, "gpt/tiny", "--out", str(tmp_path / "straight"), *whole)
    half = _settings(tiny_corpus, 3, 3, "data.batch_size=4")
    _train(2, "gpt/tiny", "--out", str(tmp_path / "two_then_one"), *half)
    _train(1, "--resume", str(tmp_path / "two_then_one"), "--set", "train.max_steps=6")
    _train(1, "gpt/tiny", "--out", str(tmp_path / "one_then_two"), *half)
    _train(2, "--resume", str(tmp_path / "one_then_two"), "--set", "train.max_steps=6")
    _assert_same_weights(tmp_path / "straight", tmp_path / "two_then_one", 1e-6)
    _assert_same_weights(tmp_path / "straight", tmp_path / "one_then_two", 1e-6)


@pytest.mark.slow
def test_a_batch_that_does_not_split_over_the_ranks_is_one_line(tiny_corpus, tmp_path):
    done = _train(2, "gpt/tiny", "--out", str(tmp_path / "odd"),
                  *_settings(tiny_corpus, 2, 2, "data.batch_size=3"), check=False)
    assert done.returncode != 0
    assert "data.batch_size is the global batch: use a multiple of 2" in done.stderr


@pytest.mark.slow
def test_killing_one_rank_fails_the_run_and_keeps_the_last_checkpoint(tiny_corpus, tmp_path):
    run = tmp_path / "killed"
    settings = _settings(tiny_corpus, 100000, 2, "train.eval_every=0",
                         "train.distributed_timeout_s=60")
    process = subprocess.Popen([*_command(2), "train", "gpt/tiny", "--out", str(run), *settings],
                               env=_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while not (run / "checkpoint" / "trainer_state.pt").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    workers = subprocess.run(["pgrep", "-f", "-P", str(process.pid), "lmlab"],
                             capture_output=True, text=True).stdout.split()
    assert workers, "torchrun started no workers"
    os.kill(int(workers[-1]), signal.SIGKILL)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode != 0
    weights = _weights(run)  # the checkpoint left behind loads
    assert all(torch.isfinite(value).all() for value in weights.values())
    assert "lost its peers" in stderr or "exitcode  : -9" in stderr


@pytest.mark.slow
def test_fsdp_equals_ddp_and_its_checkpoint_resumes_in_one_process(tiny_corpus, tmp_path):
    settings = _settings(tiny_corpus, 5, 5, "data.batch_size=4")
    _train(2, "gpt/tiny", "--out", str(tmp_path / "ddp"), *settings)
    _train(2, "gpt/tiny", "--out", str(tmp_path / "fsdp"), *settings,
           "--set", "train.distributed=fsdp")
    _assert_same_weights(tmp_path / "ddp", tmp_path / "fsdp", 1e-5)
    # The sharded run's checkpoint is the single-process format: resume it alone, and
    # the other way round, and both end where the straight single-process run ends.
    whole = _settings(tiny_corpus, 6, 3, "data.batch_size=4")
    _train(1, "gpt/tiny", "--out", str(tmp_path / "straight"), *whole)
    half = _settings(tiny_corpus, 3, 3, "data.batch_size=4", "train.distributed=fsdp")
    _train(2, "gpt/tiny", "--out", str(tmp_path / "fsdp_then_one"), *half)
    _train(1, "--resume", str(tmp_path / "fsdp_then_one"), "--set", "train.max_steps=6")
    _train(1, "gpt/tiny", "--out", str(tmp_path / "one_then_fsdp"), *half)
    _train(2, "--resume", str(tmp_path / "one_then_fsdp"), "--set", "train.max_steps=6")
    _assert_same_weights(tmp_path / "straight", tmp_path / "fsdp_then_one", 1e-5)
    _assert_same_weights(tmp_path / "straight", tmp_path / "one_then_fsdp", 1e-5)


def test_fsdp_in_one_process_says_it_trains_unsharded(tiny_corpus, tmp_path):
    done = _train(1, "gpt/tiny", "--out", str(tmp_path / "alone"),
                  *_settings(tiny_corpus, 1, 1, "train.distributed=fsdp"))
    assert "nothing to shard, so it trains unsharded" in done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_electra_whose_mlm_head_is_unused_trains_under_both_strategies(strategy, tiny_corpus,
                                                                       tmp_path):
    overrides = tiny_overrides("electra/tiny", tiny_corpus, 2, 2) + [f"train.distributed={strategy}"]
    done = _train(2, "electra/tiny", "--out", str(tmp_path / strategy),
                  *[argument for override in overrides for argument in ("--set", override)])
    assert done.stdout.count('"run"') == 1  # one summary: rank 0 alone speaks
    assert (tmp_path / strategy / "checkpoint" / "model.safetensors").exists()


@pytest.mark.slow
def test_an_encoder_decoder_under_ddp_equals_one_process(tiny_corpus, tmp_path):
    """BART's noise is drawn per example id after the rows are split, so two ranks with half
    batches train the same weights as one process with the whole batch."""
    overrides = (tiny_overrides("bart/tiny", tiny_corpus, 3, 3) + NO_DROPOUT
                 + ["model.decoder.dropout=0", "model.decoder.attention_dropout=0",
                    "data.batch_size=4"])
    settings = [argument for override in overrides for argument in ("--set", override)]
    _train(1, "bart/tiny", "--out", str(tmp_path / "one"), *settings)
    _train(2, "bart/tiny", "--out", str(tmp_path / "two"), *settings)
    _assert_same_weights(tmp_path / "one", tmp_path / "two", 1e-6)


@pytest.mark.slow
def test_sharded_fsdp_checkpoints_hold_what_the_gathered_ones_hold_and_resume_anywhere(
        tiny_corpus, tmp_path):
    import shutil

    from lmlab.training.checkpoint import load_trainer_state
    from lmlab.training.sharded_checkpoint import assemble_weights
    half = _settings(tiny_corpus, 3, 3, "data.batch_size=4", "train.distributed=fsdp")
    _train(2, "gpt/tiny", "--out", str(tmp_path / "gathered"), *half)
    _train(2, "gpt/tiny", "--out", str(tmp_path / "sharded"), *half,
           "--set", "train.checkpoint_sharded=true")
    folder = tmp_path / "sharded" / "checkpoint"
    assert sorted(path.name for path in folder.glob("*.safetensors")) == [
        "model-00000-of-00002.safetensors", "model-00001-of-00002.safetensors",
        "optimizer-00000-of-00002.safetensors", "optimizer-00001-of-00002.safetensors"]
    gathered = _weights(tmp_path / "gathered")
    assert assemble_weights(folder).keys() == gathered.keys()
    for key, value in assemble_weights(folder).items():
        assert torch.equal(value, gathered[key]), key
    saved = load_trainer_state(tmp_path / "gathered" / "checkpoint")["optimizer"]
    read = load_trainer_state(folder)["optimizer"]
    assert read["param_groups"] == saved["param_groups"]
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            assert torch.equal(read["state"][index][key], value), (index, key)
    # Resumed alone (single file written, with a note) and by 2 FSDP ranks (rank files
    # again, then consolidated): both end where the straight single-process run ends.
    shutil.copytree(tmp_path / "sharded", tmp_path / "sharded_two")
    alone = _train(1, "--resume", str(tmp_path / "sharded"), "--set", "train.max_steps=6")
    assert "only FSDP over several processes shards the weights" in alone.stdout + alone.stderr
    _train(2, "--resume", str(tmp_path / "sharded_two"), "--set", "train.max_steps=6")
    done = subprocess.run([*_command(1), "consolidate", str(tmp_path / "sharded_two")],
                          env=_environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _train(1, "gpt/tiny", "--out", str(tmp_path / "straight"),
           *_settings(tiny_corpus, 6, 3, "data.batch_size=4"))
    _assert_same_weights(tmp_path / "straight", tmp_path / "sharded", 1e-5)
    _assert_same_weights(tmp_path / "straight", tmp_path / "sharded_two", 1e-5)
