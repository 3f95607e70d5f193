"""Softmax approximations vs the full softmax on WikiText-2 (33k words): training speed
per token and the exact valid perplexity after the same number of training tokens
(issue 5, review §3.1.2).

One LSTM LM (1 layer x 200 units, BPTT 35, batch 20, Adam 3e-3, clip 1) is trained with
each ``objectives[0].output.kind``. Two measurements, so that machine load cannot bias the
comparison:

* **quality** — each kind is trained for ``--steps`` steps (the same training tokens) by
  the training loop; the valid perplexity is exact: the full softmax for the sampled kinds,
  the tree / class distribution for hierarchical / class, on the first
  ``--valid-tokens`` valid tokens.
* **speed** — fresh models of every kind are stepped (forward, backward, clipping, AdamW)
  in ``--rounds`` interleaved rounds of ``--round-steps`` steps with 1 thread
  (:func:`lmlab.training.step_cost.time_steps`); a kind's words/s is training tokens per
  step over its median seconds per step, so every kind sees the same load.

    python bench/softmax_approx.py --steps 1000 > bench/results/softmax_approx.json

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

KINDS = ["full", "importance", "adaptive_importance", "nce", "hierarchical", "class"]
BATCH, BPTT = 20, 35


def _overrides(kind: str, steps: int, samples: int, valid_tokens: int,
               unigram_power: float = 1.0, adapt_floor: float | None = None) -> list[str]:
    output = {"kind": kind}
    if kind in ("importance", "adaptive_importance", "nce"):
        output["samples"] = samples
        output["unigram_power"] = unigram_power
    if kind == "adaptive_importance" and adapt_floor is not None:
        output["adapt_floor"] = adapt_floor
    return [
        "data.dataset=wikitext-2", f"data.seq_len={BPTT}", f"data.batch_size={BATCH}",
        "data.eval_batch_size=1", f"train.eval_batches={max(1, valid_tokens // BPTT)}",
        "model.embedding.hidden_size=200", "model.embedding.dropout=0.0",
        "model.encoder.num_layers=1", "model.encoder.dropout=0.0",
        "train.optimizer=adamw", "train.lr=0.003", "train.weight_decay=0.0",
        "train.schedule=constant", "train.max_epochs=0", f"train.max_steps={steps}",
        "train.eval_every=0", f"train.checkpoint_every={steps}", "train.log_every=50",
        "train.progress=false", "train.grad_clip=1.0", "train.num_threads=1",
        f"objectives.0.output={json.dumps(output)}",
    ]


def _config(kind: str, args):
    from lmlab.config import load_config
    from lmlab.presets import preset_path

    return load_config(preset_path("lstm/small"),
                       _overrides(kind, args.steps, args.samples, args.valid_tokens,
                                  args.unigram_power, args.adapt_floor))


def quality(kind: str, args, folder: Path) -> dict:
    from lmlab.training.trainer import train

    result = train(_config(kind, args), folder / kind, log=lambda *_: None)
    return {"kind": kind, "steps": result.steps, "train_tokens": result.steps * BATCH * BPTT,
            "train_seconds": round(result.train_seconds, 1),
            "valid_ppl": round(result.valid["perplexity"], 2),
            "valid_tokens": result.valid["tokens"]}


def speed(kinds: list[str], args) -> dict:
    """Median seconds per step of each kind over interleaved rounds -> words/s."""
    from lmlab.training.step_cost import time_steps, training_parts

    torch.set_num_threads(1)
    configs = {kind: _config(kind, args) for kind in kinds}
    parts = {kind: training_parts(configs[kind]) for kind in kinds}
    seconds = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            timing = time_steps(parts[kind], configs[kind], args.round_steps, warmup=1)
            seconds[kind].append(timing["seconds_per_step"])
    return {kind: {"seconds_per_step": round(statistics.median(s), 4),
                   "words_per_s": round(BATCH * BPTT / statistics.median(s), 1),
                   "rounds": [round(x, 4) for x in s]} for kind, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per kind")
    parser.add_argument("--samples", type=int, default=512, help="K of the sampled kinds")
    parser.add_argument("--valid-tokens", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--round-steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--adapt-floor", type=float, default=None,
                        help="adaptive IS: weight of the fixed proposal in the mixture")
    parser.add_argument("--unigram-power", type=float, default=1.0,
                        help="proposal / noise q(w) ∝ count^power of the sampled kinds")
    parser.add_argument("--reuse-quality", default=None, metavar="JSON",
                        help="take the quality rows of these kinds (comma list) from an "
                             "earlier output of this script with the same --steps, e.g. "
                             "full=bench/results/softmax_approx.json")
    args = parser.parse_args()
    reused = {}
    if args.reuse_quality:
        names, path = args.reuse_quality.split("=", 1)
        earlier = json.loads(Path(path).read_text())
        if earlier["steps"] != args.steps or earlier["valid_tokens"] != args.valid_tokens:
            parser.error(f"{path}: trained for {earlier['steps']} steps on "
                         f"{earlier['valid_tokens']} valid tokens, not {args.steps} / "
                         f"{args.valid_tokens}")
        quality_keys = ("kind", "steps", "train_tokens", "train_seconds", "valid_ppl", "valid_tokens")
        reused = {row["kind"]: {key: row[key] for key in quality_keys} | {"quality_from": path}
                  for row in earlier["rows"] if row["kind"] in names.split(",")}
    kinds = args.kinds.split(",")
    load_before = os.getloadavg()
    began = time.perf_counter()
    timings = speed(kinds, args)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            measured = reused.get(kind) or quality(kind, args, Path(folder))
            rows.append({**measured, **timings[kind]})
    full = next((r for r in rows if r["kind"] == "full"), None)
    for row in rows:
        if full is not None:
            row["speedup_vs_full"] = round(row["words_per_s"] / full["words_per_s"], 2)
            row["ppl_ratio_vs_full"] = round(row["valid_ppl"] / full["valid_ppl"], 3)
            row["meets_target"] = (row["kind"] == "full" or (row["speedup_vs_full"] >= 3.0
                                   and row["ppl_ratio_vs_full"] <= 1.10))
    print(json.dumps({
        "bench": "softmax_approx", "dataset": "wikitext-2",
        "model": f"LSTM 1x200, BPTT {BPTT}, batch {BATCH}, AdamW 3e-3, clip 1, 1 thread",
        "samples": args.samples, "unigram_power": args.unigram_power,
        "adapt_floor": args.adapt_floor, "steps": args.steps, "valid_tokens": args.valid_tokens,
        "timing": f"median of {args.rounds} interleaved rounds of {args.round_steps} steps",
        "target": "each approximation >= 3x full-softmax words/s, valid ppl within 10%",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "wall_seconds": round(time.perf_counter() - began, 1),
        "machine": platform.machine(),
        "note": "valid ppl is exact (full softmax / exact tree or class distribution)",
        "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
