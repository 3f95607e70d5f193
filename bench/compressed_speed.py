"""CPU speed of fine-tuned run folders (e.g. a teacher and its pruned runs), one JSON object.

Each run is loaded with ``load_finetuned`` (as ``lmlab evaluate`` does) and runs the first
SST-2-style dev features of its own task: batch 1 over ``--sentences`` sentences (ms a
sentence) and batch 32 over 8 batches (sentences/s); tokenisation is done beforehand. One
thread (the machine is a shared 2-core CPU); the runs are interleaved over ``--rounds``
rounds and each number is the median of its rounds, so a change of load hits every run.

    python bench/compressed_speed.py RUN [RUN ...] [--rounds 5] [--sentences 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lmlab.finetune import task_data
from lmlab.finetune.features import collate
from lmlab.finetune.run_folder import load_finetuned
from lmlab.tasks.catalogue import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sentences", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = {}
    for run in args.runs:
        config, tokenizer, model = load_finetuned(run)
        spec = get_task(config.task)
        features = task_data.encode(spec, tokenizer, spec.read(config.options.dev_split), config)
        loaded[run] = (model, features, tokenizer.pad_id, spec.kind)
    times = {run: {"batch1": [], "batch32": []} for run in args.runs}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for run, (model, features, pad, kind) in loaded.items():
                started = time.perf_counter()
                for feature in features[:args.sentences]:
                    model(collate([feature], kind, pad))
                times[run]["batch1"].append(1000 * (time.perf_counter() - started) / args.sentences)
                started = time.perf_counter()
                for begin in range(0, 256, 32):
                    model(collate(features[begin:begin + 32], kind, pad))
                times[run]["batch32"].append(256 / (time.perf_counter() - started))
    print(json.dumps({"threads": 1, "rounds": args.rounds, "runs": [
        {"run": run, "params": sum(p.numel() for p in loaded[run][0].parameters()),
         "latency_ms_batch1": round(statistics.median(times[run]["batch1"]), 2),
         "sentences_per_s_batch32": round(statistics.median(times[run]["batch32"]), 1)}
        for run in args.runs]}))


if __name__ == "__main__":
    main()
