"""Softmax approximations vs the full softmax on WikiText-2 (33k words): training speed
per token and the exact valid perplexity after the same number of training tokens.

One LSTM LM (1 layer × 200 units, BPTT 35, batch 20, Adam) is trained with each
``objectives[0].output.kind`` for the same number of steps; words/s is the trainer's
measured training throughput, and the valid perplexity is computed with the model's
exact normalised distribution (full softmax for the sampled kinds, the tree / class
distribution for hierarchical / class) on the first ``--valid-tokens`` valid tokens.

    nice -n 10 python bench/softmax_approx.py --steps 120 > bench/results/softmax_approx.json

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

KINDS = ["full", "importance", "adaptive_importance", "nce", "hierarchical", "class"]


def _overrides(kind: str, steps: int, samples: int, valid_tokens: int) -> list[str]:
    output = {"kind": kind}
    if kind in ("importance", "adaptive_importance", "nce"):
        output["samples"] = samples
    return [
        "data.dataset=wikitext-2", "data.seq_len=35", "data.batch_size=20",
        "data.eval_batch_size=1", f"train.eval_batches={max(1, valid_tokens // 35)}",
        "model.embedding.hidden_size=200", "model.embedding.dropout=0.0",
        "model.encoder.num_layers=1", "model.encoder.dropout=0.0",
        "train.optimizer=adamw", "train.lr=0.003", "train.weight_decay=0.0",
        "train.schedule=constant", "train.max_epochs=0", f"train.max_steps={steps}",
        "train.eval_every=0", f"train.checkpoint_every={steps}", "train.log_every=10",
        "train.progress=false", "train.grad_clip=1.0",
        f"objectives.0.output={json.dumps(output)}",
    ]


def run(kind: str, steps: int, samples: int, valid_tokens: int, folder: Path) -> dict:
    from lmlab.config import load_config
    from lmlab.presets import preset_path
    from lmlab.training.trainer import train

    config = load_config(preset_path("lstm/small"), _overrides(kind, steps, samples, valid_tokens))
    began = time.perf_counter()
    result = train(config, folder / kind, log=lambda *_: None)
    return {"kind": kind, "steps": result.steps,
            "train_tokens": result.steps * 20 * 35,
            "train_seconds": round(result.train_seconds, 1),
            "words_per_s": round(result.tokens_per_second, 1),
            "valid_ppl": round(result.valid["perplexity"], 2),
            "valid_tokens": result.valid["tokens"],
            "wall_seconds": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--valid-tokens", type=int, default=20000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds.split(","):
            rows.append(run(kind, args.steps, args.samples, args.valid_tokens, Path(folder)))
    full = next((r for r in rows if r["kind"] == "full"), None)
    for row in rows:
        if full is not None:
            row["speedup_vs_full"] = round(row["words_per_s"] / full["words_per_s"], 2)
            row["ppl_ratio_vs_full"] = round(row["valid_ppl"] / full["valid_ppl"], 3)
            row["meets_target"] = (row["kind"] == "full" or (row["speedup_vs_full"] >= 3.0
                                   and row["ppl_ratio_vs_full"] <= 1.10))
    print(json.dumps({
        "bench": "softmax_approx", "dataset": "wikitext-2",
        "model": "LSTM 1x200, BPTT 35, batch 20, Adam 3e-3",
        "samples": args.samples, "steps": args.steps, "valid_tokens": args.valid_tokens,
        "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "note": "valid ppl is exact (full softmax / exact tree or class distribution)",
        "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
