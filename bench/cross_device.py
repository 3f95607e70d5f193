"""A run moved between devices and precisions (issue 17): gpt/tiny on PTB trained on the
GPU in bf16, stopped, and resumed on the CPU in fp32, against the same run done on the CPU
throughout; and bert/tiny in fp16 (gradient scaler) on the GPU. Prints one JSON object
with each run's validation loss, so the cross-device tolerance is a measured number.

    python bench/cross_device.py            # needs a CUDA GPU (bench/gpu.sh's machine)
    python bench/cross_device.py --device cpu --steps 20   # the same path on CPU only

Each run is ``python -m lmlab train`` in a subprocess, exactly as a user types it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def lmlab(*arguments: str) -> None:
    done = subprocess.run([sys.executable, "-m", "lmlab", *arguments], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise RuntimeError(f"lmlab {' '.join(arguments)}: {done.stderr.strip().splitlines()[-1]}")


def final_eval(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if '"eval_loss"' in line]
    return {"step": rows[-1]["step"], "eval_loss": round(rows[-1]["eval_loss"], 5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    steps, half = args.steps, args.steps // 2
    common = ["--data", "ptb", "--set", "train.progress=false", "--set", "train.eval_batches=20",
              "--set", f"train.eval_every={half}", "--set", f"train.checkpoint_every={half}"]
    fast = "fp32" if args.device == "cpu" else "bf16"
    result: dict = {"device": args.device, "steps": steps}
    with tempfile.TemporaryDirectory() as folder:
        moved, cpu_only, fp16 = (Path(folder) / name for name in ("moved", "cpu", "fp16"))
        lmlab("train", "gpt/tiny", "--out", str(moved), *common,
              "--set", f"train.max_steps={half}", "--set", f"train.device={args.device}",
              "--set", f"train.precision={fast}")
        result[f"gpt_{args.device}_{fast}_first_half"] = final_eval(moved)
        lmlab("train", "--resume", str(moved), "--set", f"train.max_steps={steps}",
              "--set", "train.device=cpu", "--set", "train.precision=fp32")
        result["gpt_resumed_on_cpu_fp32"] = final_eval(moved)
        lmlab("train", "gpt/tiny", "--out", str(cpu_only), *common,
              "--set", f"train.max_steps={steps}", "--set", "train.device=cpu")
        result["gpt_cpu_fp32_throughout"] = final_eval(cpu_only)
        result["gpt_loss_gap_moved_vs_cpu"] = round(
            result["gpt_resumed_on_cpu_fp32"]["eval_loss"]
            - result["gpt_cpu_fp32_throughout"]["eval_loss"], 5)
        if args.device != "cpu":
            print(json.dumps(result), file=sys.stderr, flush=True)  # a record if cut short
            lmlab("train", "bert/tiny", "--out", str(fp16), *common,
                  "--set", f"train.max_steps={steps}", "--set", f"train.device={args.device}",
                  "--set", "train.precision=fp16")
            result[f"bert_{args.device}_fp16"] = final_eval(fp16)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
