"""Where a pre-training step's time goes, at the two sizes of the objectives comparison.

    python bench/step_profile.py [--steps 6] [--threads 1] [--presets roberta/tiny bert/tiny]

For each preset at L2/H128/A2/FFN512 (bert-tiny) and L4/H256/A4/FFN1024 (the suite's
size), on the suite's corpus and vocabulary (WikiText-2, 8k WordPiece, seq 128, batch 32),
the training loop's own parts run ``--steps`` AdamW steps (after 2 warm-up steps) and
each step is split by the clock into its phases: making the batch (token store), the
objectives' corruption, forward + loss, backward, gradient clipping, optimizer step. A
second pass under ``torch.profiler`` gives the operators with the most self CPU time,
grouped into matmul / attention / softmax-loss / norm / element-wise / optimizer kinds.
Prints one JSON object (issue 17: "a throughput pass over the whole step").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict

import torch

SIZES = {
    "L2/H128": ["model.embedding.hidden_size=128", "model.encoder.num_layers=2",
                "model.encoder.num_heads=2", "model.encoder.ffn_size=512"],
    "L4/H256": ["model.embedding.hidden_size=256", "model.encoder.num_layers=4",
                "model.encoder.num_heads=4", "model.encoder.ffn_size=1024"],
}
KINDS = (  # (kind, substrings of aten operator names), first match wins
    ("attention", ("attention", "_efficient", "_flash", "bmm", "baddbmm")),
    ("matmul", ("mm", "matmul", "linear")),
    ("softmax / loss", ("softmax", "exp", "log", "nll", "cross_entropy", "gather", "amax")),
    ("layer norm", ("layer_norm",)),
    ("optimizer", ("_foreach", "adam", "sqrt", "lerp", "addcdiv", "addcmul")),
    ("embedding", ("embedding", "index_select", "index_add", "scatter")),
    ("dropout / random", ("dropout", "bernoulli", "rand", "uniform", "multinomial")),
)


def kind_of(name: str) -> str:
    name = name.lower()
    for kind, needles in KINDS:
        if any(needle in name for needle in needles):
            return kind
    return "other element-wise / copies"


def phases(parts, config, steps: int, warmup: int = 2) -> dict:
    """Median seconds per step of each phase over ``steps`` steps."""
    from lmlab.training.objective_step import combined_loss, corrupted
    from lmlab.training.optim import build_optimizer

    optimizer = build_optimizer(parts.model, config.train)
    parts.model.train()
    times = defaultdict(list)
    for step in range(warmup + steps):
        clock = [time.perf_counter()]

        def tick(name: str) -> None:
            clock.append(time.perf_counter())
            if step >= warmup:
                times[name].append(clock[-1] - clock[-2])

        optimizer.zero_grad(set_to_none=True)
        raw = parts.batches.batch(step)
        tick("batch")
        batch = corrupted(parts.objectives, raw)
        tick("corruption")
        loss, _ = combined_loss(parts.model, parts.objectives, batch)
        tick("forward + loss")
        loss.backward()
        tick("backward")
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), config.train.grad_clip)
        tick("clip")
        optimizer.step()
        tick("optimizer")
    result = {name: round(statistics.median(values), 4) for name, values in times.items()}
    total = sum(result.values())
    return {"seconds_per_step": round(total, 4),
            "share": {name: round(value / total, 3) for name, value in result.items()},
            "seconds": result}


def operator_kinds(parts, config, steps: int) -> dict:
    """Self CPU time by operator kind (torch.profiler) over ``steps`` steps, and the top 8."""
    from torch.profiler import ProfilerActivity, profile

    from lmlab.training.objective_step import combined_loss, corrupted
    from lmlab.training.optim import build_optimizer

    optimizer = build_optimizer(parts.model, config.train)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            batch = corrupted(parts.objectives, parts.batches.batch(step))
            loss, _ = combined_loss(parts.model, parts.objectives, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parts.model.parameters(), config.train.grad_clip)
            optimizer.step()
    events = [e for e in profiler.key_averages() if e.key.startswith("aten::")]
    by_kind = defaultdict(float)
    for event in events:
        by_kind[kind_of(event.key)] += event.self_cpu_time_total
    total = sum(by_kind.values()) or 1.0
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
    return {"share_by_kind": {k: round(v / total, 3)
                              for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])},
            "top_operators": [{"op": e.key, "share": round(e.self_cpu_time_total / total, 3),
                               "calls_per_step": e.count // steps} for e in top]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--presets", nargs="+", default=["roberta/tiny", "bert/tiny"])
    parser.add_argument("--suite", default="suites/objectives")
    args = parser.parse_args()
    from lmlab.config import load_config
    from lmlab.presets import preset_path
    from lmlab.recipes.compare_suite import load_suite
    from lmlab.training.step_cost import flops_per_step, training_parts

    torch.set_num_threads(args.threads)
    suite = [o for o in load_suite(args.suite).overrides
             if not o.startswith(("model.embedding.hidden_size", "model.encoder."))]
    result = {"bench": "step_profile", "threads": args.threads, "steps": args.steps,
              "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
              "load_before": round(os.getloadavg()[0], 2), "runs": []}
    for size, size_overrides in SIZES.items():
        for preset in args.presets:
            config = load_config(preset_path(preset), [*suite, *size_overrides])
            parts = training_parts(config)
            flops = flops_per_step(parts, config)
            timed = phases(parts, config, args.steps)
            result["runs"].append({
                "size": size, "preset": preset, **timed,
                "gflops_per_step": round(flops / 1e9, 2),
                "achieved_gflops": round(flops / timed["seconds_per_step"] / 1e9, 1),
                "operators": operator_kinds(parts, config, max(2, args.steps // 2))})
    result["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
