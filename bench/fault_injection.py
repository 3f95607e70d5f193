"""kill -9 at random points of training, checkpoint writing and n-gram building; then
resume or rebuild and compare with the uninterrupted result. Prints ONE JSON object.

Kinds of trial (issue 16, "What must hold"):

* ``train_random``: ``lmlab train`` SIGKILLed after a random delay (anywhere: start-up,
  steps, a save), then resumed (or, killed before its first checkpoint, started again with
  ``--overwrite``) until done;
* ``checkpoint_write``: the training process kills itself (SIGKILL) inside a checkpoint
  save, at a random save and a random phase of it: after the weights, after the trainer
  state, after the manifest, after the fsync, between the two renames, after them, or
  half-way through deleting the previous checkpoint;
* ``ngram_random``: ``lmlab ngram build`` SIGKILLed after a random delay; ``ngram_phase``:
  killed after the ARPA, the .npz, or ngram.json (before the manifest); then rebuilt with
  ``--overwrite``.

After each kill, before resuming, the killed folder is loaded the way lmlab loads it: the
load must either refuse it in one lmlab error or load files that match their manifest
(``partial_loads`` counts any other outcome). The resumed run must end with a
``model.safetensors`` whose sha256 equals the uninterrupted run's (training is bit-exact
on CPU with fixed threads), the rebuilt ``model.arpa`` must equal the uninterrupted one
byte for byte, and no ``.checkpoint-*`` temporary folder may be left.

Usage: LMLAB_DATA=../shared/data python bench/fault_injection.py [--seed 0]
       [--train-random 6 --checkpoint-write 7 --ngram-random 4 --ngram-phase 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lmlab.errors import LmlabError
from lmlab.manifest import file_sha256, find_problems
from lmlab.ngram.run_folder import load_run as load_ngram_run
from lmlab.training import checkpoint as ckpt

# Every process runs this entry: the same imports in the same order, and fixed threads, so
# that a resumed run's numerics are the uninterrupted run's (tests/training/test_resume.py).
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_DYNAMIC": "FALSE",
       "MKL_DYNAMIC": "FALSE", "PYTHONHASHSEED": "0"}
ENTRY = r"""
import os, shutil, signal, sys
from pathlib import Path
from lmlab.manifest import write_manifest
from lmlab.training import checkpoint as ckpt
from lmlab.ngram import run_folder
fault = os.environ.get("LMLAB_FAULT", "")   # "save:<step>:<phase>" or "ngram:<phase>"
kind, _, rest = fault.partition(":")
def die():
    os.kill(os.getpid(), signal.SIGKILL)
if kind == "save":
    step, phase = rest.split(":")
    saving = {"on": False}
    real_save = ckpt.save_checkpoint
    def save(run_dir, model, config, tokenizer, state):
        saving["on"] = state["step"] == int(step)
        try:
            return real_save(run_dir, model, config, tokenizer, state)
        finally:
            saving["on"] = False
    ckpt.save_checkpoint = save
    def after(name, real):
        def wrapped(*args, **kwargs):
            result = real(*args, **kwargs)
            if saving["on"] and phase == name:
                die()
            return result
        return wrapped
    ckpt.save_model = after("weights", ckpt.save_model)
    ckpt.torch.save = after("state", ckpt.torch.save)
    ckpt.write_manifest = after("manifest", ckpt.write_manifest)
    ckpt.fsync_tree = after("fsync", ckpt.fsync_tree)
    ckpt.fsync_folder = after("renamed", ckpt.fsync_folder)
    real_replace = os.replace
    def replace(source, target):
        real_replace(source, target)
        if saving["on"] and Path(target).name == "checkpoint.previous" and phase == "swap":
            die()
    ckpt.os.replace = replace
    real_rmtree = shutil.rmtree
    def rmtree(path, *args, **kwargs):
        if saving["on"] and phase == "cleanup" and Path(path).name == "checkpoint.previous":
            files = sorted(p for p in Path(path).rglob("*") if p.is_file())
            for p in files[: len(files) // 2]:
                p.unlink()
            die()
        return real_rmtree(path, *args, **kwargs)
    ckpt.shutil.rmtree = rmtree
elif kind == "ngram":
    def after(name, real):
        def wrapped(*args, **kwargs):
            result = real(*args, **kwargs)
            if rest == name:
                die()
            return result
        return wrapped
    run_folder.write_arpa = after("arpa", run_folder.write_arpa)
    run_folder.save_npz = after("npz", run_folder.save_npz)
    run_folder.write_json = after("marker", run_folder.write_json)
from lmlab.cli import main
sys.exit(main(sys.argv[1:]))
"""
SAVE_PHASES = ("weights", "state", "manifest", "fsync", "swap", "renamed", "cleanup")
NGRAM_PHASES = ("arpa", "npz", "marker")
STEPS, EVERY = 12, 2
FAILURES: list[str] = []  # a resume or rebuild that did not exit 0 (must stay empty)


def lmlab(args: list[str], fault: str = "", kill_after: float | None = None) -> int:
    """Run ``lmlab ARGS`` in a fresh process; SIGKILL it after ``kill_after`` seconds."""
    env = {**os.environ, **ENV, "LMLAB_FAULT": fault}
    process = subprocess.Popen([sys.executable, "-c", ENTRY, *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return -signal.SIGKILL
    if process.returncode not in (0, -signal.SIGKILL):
        FAILURES.append(f"lmlab {' '.join(args[:2])} {args[-1]}: exit {process.returncode}: "
                        f"{(err.strip().splitlines() or [''])[-1]}")
    return process.returncode


def corpus(root: Path, shared: Path) -> Path:
    folder = root / "corpus"
    folder.mkdir()
    for split, lines in {"train": 1500, "valid": 150, "test": 150}.items():
        text = (shared / "ptb" / f"ptb.{split}.txt").read_text().splitlines()[:lines]
        (folder / f"{split}.txt").write_text("\n".join(text) + "\n")
    return folder


def train_args(data: Path) -> list[str]:
    sets = [f"data.dataset={data}", f"train.max_steps={STEPS}", "train.max_epochs=0",
            f"train.checkpoint_every={EVERY}", f"train.eval_every={EVERY}",
            "train.eval_batches=2", "train.log_every=1", "train.progress=false",
            "data.eval_batch_size=4", "data.seq_len=32", "data.batch_size=4",
            "model.embedding.max_positions=64"]
    return ["train", "gpt/tiny", *[f"--set={s}" for s in sets]]


def loaded_safely(load) -> str:
    """'refused' (an lmlab error), 'verified' (loaded, every file matched its manifest) or
    'partial' (anything else: a traceback, or files loaded without a manifest check)."""
    warnings = io.StringIO()
    try:
        with contextlib.redirect_stderr(warnings):
            load()
    except LmlabError:
        return "refused"
    except Exception:  # noqa: BLE001 - exactly what must never happen
        return "partial"
    return "partial" if "unverified" in warnings.getvalue() else "verified"


def load_checkpoint(run: Path) -> None:
    folder = ckpt.checkpoint_folder(run)
    if find_problems(folder) is None:
        print("unverified", file=sys.stderr)
    ckpt.load_trainer_state(folder)
    ckpt.load_run(run)


def finish_training(run: Path, data: Path) -> int:
    """Resume the killed run (or start it again when it has no checkpoint); returns the
    number of processes it took."""
    has_checkpoint = any((run / name / "model.safetensors").exists()
                         for name in (ckpt.CHECKPOINT, "checkpoint.previous"))
    if has_checkpoint:
        lmlab(["train", "--resume", str(run)])
    else:
        lmlab([*train_args(data), "--out", str(run), "--overwrite"])
    return 1


def training_trial(root: Path, data: Path, index: int, fault: str, delay: float | None,
                   reference: str) -> dict:
    run = root / f"train-{index}"
    code = lmlab([*train_args(data), "--out", str(run)], fault=fault, kill_after=delay)
    killed = code == -signal.SIGKILL
    loaded = loaded_safely(lambda: load_checkpoint(run)) if killed else "not killed"
    if killed:
        finish_training(run, data)
    final = run / ckpt.CHECKPOINT / "model.safetensors"
    return {"fault": fault or f"after {delay:.2f}s", "killed": killed, "killed_folder": loaded,
            "identical": final.exists() and file_sha256(final) == reference,
            "temporaries_left": len(list(run.glob(".checkpoint-*")))}


def ngram_args(out: Path, overwrite: bool = False) -> list[str]:
    return ["ngram", "build", "--data", "ptb", "-o", "3", "--out", str(out),
            *(["--overwrite"] if overwrite else [])]


def ngram_trial(root: Path, index: int, fault: str, delay: float | None, reference: str) -> dict:
    out = root / f"ngram-{index}"
    code = lmlab(ngram_args(out), fault=fault, kill_after=delay)
    killed = code == -signal.SIGKILL
    loaded = loaded_safely(lambda: load_ngram_run(out)) if killed else "not killed"
    if killed:
        lmlab(ngram_args(out, overwrite=True))
    arpa = out / "model.arpa"
    return {"fault": fault or f"after {delay:.2f}s", "killed": killed, "killed_folder": loaded,
            "identical": arpa.exists() and file_sha256(arpa) == reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-random", type=int, default=6)
    parser.add_argument("--checkpoint-write", type=int, default=7)
    parser.add_argument("--ngram-random", type=int, default=4)
    parser.add_argument("--ngram-phase", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    shared = Path(os.environ.get("LMLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    root = Path(tempfile.mkdtemp(prefix="lmlab-faults-"))
    started = time.perf_counter()
    try:
        data = corpus(root, shared)
        began = time.perf_counter()
        lmlab([*train_args(data), "--out", str(root / "train-reference")])
        train_seconds = time.perf_counter() - began
        reference = file_sha256(root / "train-reference" / ckpt.CHECKPOINT / "model.safetensors")
        began = time.perf_counter()
        lmlab(ngram_args(root / "ngram-reference"))
        ngram_seconds = time.perf_counter() - began
        arpa_reference = file_sha256(root / "ngram-reference" / "model.arpa")

        trials = []
        for i in range(options.train_random):
            delay = rng.uniform(0.2, 0.85) * train_seconds
            trials.append({"kind": "train_random", **training_trial(root, data, len(trials), "",
                                                                  delay, reference)})
        for i in range(options.checkpoint_write):
            phase = SAVE_PHASES[i % len(SAVE_PHASES)] if i < len(SAVE_PHASES) else \
                rng.choice(SAVE_PHASES)
            # From the second save on, so that there is a previous checkpoint to swap out.
            fault = f"save:{rng.randrange(2 * EVERY, STEPS + 1, EVERY)}:{phase}"
            trials.append({"kind": "checkpoint_write", **training_trial(root, data, len(trials),
                                                                      fault, None, reference)})
        for i in range(options.ngram_random):
            delay = rng.uniform(0.3, 1.0) * ngram_seconds
            trials.append({"kind": "ngram_random", **ngram_trial(root, len(trials), "", delay,
                                                                 arpa_reference)})
        for i in range(options.ngram_phase):
            fault = f"ngram:{NGRAM_PHASES[i % len(NGRAM_PHASES)]}"
            trials.append({"kind": "ngram_phase", **ngram_trial(root, len(trials), fault, None,
                                                                arpa_reference)})
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({
        "trials": len(trials),
        "killed": sum(t["killed"] for t in trials),
        "identical_after_resume_or_rebuild": sum(t["identical"] for t in trials),
        "partial_loads": sum(t["killed_folder"] == "partial" for t in trials),
        "killed_folder_refused": sum(t["killed_folder"] == "refused" for t in trials),
        "killed_folder_loaded_verified": sum(t["killed_folder"] == "verified" for t in trials),
        "temporaries_left": sum(t.get("temporaries_left", 0) for t in trials),
        "failed_commands": FAILURES,
        "reference_seconds": {"train": round(train_seconds, 2), "ngram": round(ngram_seconds, 2)},
        "seconds": round(time.perf_counter() - started, 1),
        "seed": options.seed, "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
        "details": trials,
    }))


if __name__ == "__main__":
    main()
