"""GPU throughput of lmlab's training step: tokens/s and MFU of the GPT and BERT presets at
bf16, eager and compiled, and the wall time of the objectives suite at a 1e17-FLOPs budget
per model, extrapolated from measured steps. Prints one JSON object.

    python bench/gpu.py                 # on a machine with a CUDA GPU (bench/gpu.sh)
    python bench/gpu.py --device cpu --quick   # the same code path on CPU, tiny sizes

The steps are the training loop's own (``training_parts`` builds model, objectives and
batches as ``lmlab train`` does; ``time_steps`` runs forward, backward, clipping and fused
AdamW under the loop's autocast). FLOPs per step are counted once with FlopCounterMode
(:mod:`lmlab.training.step_cost`); MFU = counted FLOPs/s over the GPU's dense bf16 peak,
both the datasheet's and a large bf16 matmul measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import torch

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.recipes.compare_suite import load_suite
from lmlab.training.device import Placement, resolve_device
from lmlab.training.step_cost import flops_per_step, time_steps, training_parts

DATASHEET_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
"""Dense bf16 tensor-core peaks (vendor datasheets, SXM parts)."""


def measured_matmul_peak(device: torch.device, dtype=torch.bfloat16, size: int = 8192) -> float:
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    began, repeats = time.perf_counter(), 20
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size ** 3 * repeats / (time.perf_counter() - began)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(preset: str, overrides: list[str], where: Placement, compiled: bool, steps: int,
            warmup: int, peak: float) -> dict:
    config = load_config(preset_path(preset), overrides)
    config.train.device, config.train.compile = str(where.device), compiled
    parts = training_parts(config)
    flops = flops_per_step(parts, config)  # counted on CPU, before the model moves
    parts.model.to(where.device)
    first = time.perf_counter()
    if compiled:
        parts.model.compile()
    timing = time_steps(parts, config, steps=1, warmup=0, where=where)  # includes compiling
    first_step_s = time.perf_counter() - first
    timing = time_steps(parts, config, steps=steps, warmup=warmup, where=where)
    achieved = flops / timing["seconds_per_step"]
    row = {"preset": preset, "compiled": compiled, "precision": where.precision,
           "batch": config.data.batch_size, "seq_len": config.data.seq_len,
           "params": sum(p.numel() for p in parts.model.parameters()),
           "flops_per_step": flops, "seconds_per_step": round(timing["seconds_per_step"], 5),
           "tokens_per_s": round(timing["tokens_per_s"]), "achieved_tflops": round(achieved / 1e12, 2),
           "mfu": round(achieved / peak, 4), "first_step_s": round(first_step_s, 2)}
    print(json.dumps(row), file=sys.stderr, flush=True)  # progress, and a record if cut short
    return row


def recorded(call, **label) -> dict:
    """``call()``, or its error as a row, so that one failure keeps the other rows."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 (torch.compile raises several kinds)
        return {**label, "error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}


def suite_estimate(where: Placement, budget: float, steps: int, quick: bool) -> dict:
    suite = load_suite("suites/objectives")
    rows, total = [], 0.0
    for entry in suite.presets[: 2 if quick else None]:
        overrides = list(suite.overrides) + (["data.dataset=ptb"] if quick else [])
        row = recorded(lambda: measure(entry.preset, overrides, where, False, steps, 2, 1.0),
                       label=entry.label)
        if "error" in row:
            rows.append(row)
            continue
        run_steps = budget / row["flops_per_step"]
        seconds = run_steps * row["seconds_per_step"]
        total += seconds
        rows.append({"label": entry.label, "flops_per_step": row["flops_per_step"],
                     "seconds_per_step": row["seconds_per_step"], "steps": round(run_steps),
                     "pretrain_hours": round(seconds / 3600, 2)})
    return {"budget_flops_per_model": budget, "models": rows,
            "pretrain_hours_total": round(total / 3600, 2),
            "note": "pre-training only, bf16 eager, suite size (L4/H256, batch 32, seq 128); "
                    "fine-tuning not included"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="tiny presets: a CPU smoke run")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type != "cuda" and not args.quick:
        print(json.dumps({"gpu": None, "message": "no CUDA GPU here: nothing measured "
                                                  "(bench/gpu.sh needs one)"}))
        return 0
    torch.backends.cuda.matmul.allow_tf32 = True  # TF32 on Ampere+ for any fp32 matmul left
    torch.backends.cudnn.allow_tf32 = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    precision = "bf16" if device.type == "cuda" else "fp32"
    where = Placement(device, precision)
    measured_peak = measured_matmul_peak(device, torch.bfloat16 if device.type == "cuda"
                                         else torch.float32, 8192 if device.type == "cuda" else 512)
    datasheet = next((v for k, v in DATASHEET_BF16.items() if k in name), None)
    peak = datasheet or measured_peak
    size = (["data.dataset=ptb", "data.batch_size=4", "data.seq_len=32"] if args.quick
            else ["data.dataset=ptb", "data.batch_size=64", "data.seq_len=256"])
    presets = ["gpt/tiny", "bert/tiny"] if args.quick else ["gpt/small", "bert/small"]
    runs = [recorded(lambda: measure(p, size, where, compiled, args.steps, 3, peak),
                     preset=p, compiled=compiled)
            for p in presets for compiled in (False, True)]
    result = {"gpu": name, "torch": torch.__version__, "precision": precision,
              "peak_bf16_datasheet": datasheet, "peak_measured_matmul": round(measured_peak),
              "mfu_against": "datasheet" if datasheet else "measured matmul", "runs": runs,
              "objectives_suite_1e17": suite_estimate(where, 1e17, min(args.steps, 10),
                                                      args.quick)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
