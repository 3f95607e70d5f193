"""Pre-training throughput of every objective at one model size, one process.

    python bench/objective_throughput.py [--steps 3] [--rounds 3] [--threads 2] \
        [--only mlm "rtd (ELECTRA)"]

Each objective runs through its preset brought to the comparison's size and corpus (the
suite's ``overrides``: L4/H256/A4/FFN1024, WikiText-2, 8k WordPiece, seq 128, batch 32),
with the training loop's own parts (:mod:`lmlab.training.step_cost`): AdamW steps with
gradient clipping. Timing is interleaved: ``--rounds`` rounds, each stepping every
objective ``--steps`` times in turn (after one warm-up step), and an objective's seconds
per step is its median over rounds — so load from other processes hits every objective
alike and the *ratios* stay meaningful on a busy machine. For each: tokens/s, seconds per
step and the counted FLOPs per step (FlopCounterMode); ELECTRA's cost per step relative to
MLM is stated in ``electra_vs_mlm``. Presets that do not exist yet are reported as skipped.
The load average before and after is recorded (other processes share the CPU). Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import torch

VARIANTS = (  # (objective, preset, extra overrides)
    ("mlm", "roberta/tiny", []),
    ("mlm+nsp", "bert/tiny", []),
    ("mlm+sop", "bert/tiny", ["objectives.1.name=sop"]),
    ("span", "roberta/tiny", ["objectives.0.unit=span"]),
    ("rtd (ELECTRA)", "electra/tiny", []),
    ("unilm", "unilm/tiny", []),
    ("whole_word+nsp (BERT-wwm)", "bert_wwm/tiny", []),
    ("span+sbo (SpanBERT)", "spanbert/tiny", []),
    ("mlm+wso+sso (StructBERT)", "structbert/tiny", []),
    ("ALBERT (factorised E, shared layers)", "albert/tiny", []),
    ("entity/phrase spans+nsp (ERNIE)", "ernie/tiny", []),
)


def prepare(preset: str, overrides: list[str]):
    """(config, training parts, counted FLOPs per step) of one variant."""
    from lmlab.config import load_config
    from lmlab.presets import preset_path
    from lmlab.training.step_cost import flops_per_step, training_parts

    config = load_config(preset_path(preset), overrides)
    parts = training_parts(config)
    return config, parts, flops_per_step(parts, config)


def summarise(preset: str, config, flops: float, seconds: list[float], tokens: float) -> dict:
    per_step = statistics.median(seconds)
    return {"preset": preset, "objectives": [o.name for o in config.objectives],
            "tokens_per_s": round(tokens / per_step),
            "seconds_per_step": round(per_step, 4), "rounds": [round(x, 4) for x in seconds],
            "gflops_per_step": round(flops / 1e9, 2),
            "achieved_gflops": round(flops / per_step / 1e9, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--suite", default="suites/objectives",
                        help="its overrides fix the model size and corpus")
    parser.add_argument("--only", nargs="+", help="objective names to run (default: all)")
    args = parser.parse_args()
    from lmlab.errors import LmlabError
    from lmlab.recipes.compare_suite import load_suite

    torch.set_num_threads(args.threads)
    overrides = list(load_suite(args.suite).overrides)
    result = {"bench": "objective_throughput", "threads": args.threads, "steps": args.steps,
              "rounds": args.rounds,
              "size_overrides": overrides, "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_average_before": [round(v, 2) for v in os.getloadavg()], "objectives": {}}
    from lmlab.training.step_cost import time_steps

    prepared = {}
    for name, preset, extra in VARIANTS:
        if args.only and name not in args.only:
            continue
        try:
            prepared[name] = (preset, *prepare(preset, overrides + extra))
        except LmlabError as error:  # e.g. a preset another issue has not added yet
            result["objectives"][name] = {"preset": preset, "skipped": str(error)[:200]}
    seconds, tokens = {name: [] for name in prepared}, {}
    for _ in range(args.rounds):
        for name, (_, config, parts, _) in prepared.items():
            timing = time_steps(parts, config, args.steps, warmup=1)
            seconds[name].append(timing["seconds_per_step"])
            tokens[name] = timing["tokens_per_s"] * timing["seconds_per_step"]  # per step
    for name, (preset, config, _, flops) in prepared.items():
        result["objectives"][name] = summarise(preset, config, flops, seconds[name], tokens[name])
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    mlm, rtd = result["objectives"].get("mlm", {}), result["objectives"].get("rtd (ELECTRA)", {})
    if "seconds_per_step" in mlm and "seconds_per_step" in rtd:
        result["electra_vs_mlm"] = {
            "seconds_per_step_ratio": round(rtd["seconds_per_step"] / mlm["seconds_per_step"], 3),
            "flops_per_step_ratio": round(rtd["gflops_per_step"] / mlm["gflops_per_step"], 3)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
