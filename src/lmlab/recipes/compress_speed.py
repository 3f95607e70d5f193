"""CPU speed of a fine-tuned run folder, as issue 20's Table 7 reports it: latency per
sentence at batch 1 and throughput at batch 32, on the task's dev inputs (tokenised once,
batches padded to their longest input), one thread, best of ``repeats`` after a warm-up.
Every model of a table is measured in one process, one after another, so they share the
machine's state (state the machine beside the numbers: this one is a shared 2-core CPU).
"""

from __future__ import annotations

import time

import torch

from lmlab.finetune import task_data
from lmlab.finetune.features import collate
from lmlab.finetune.run_folder import load_finetuned
from lmlab.tasks.catalogue import get_task


def _inputs(run_dir, sentences: int):
    config, tokenizer, model = load_finetuned(run_dir)
    spec = get_task(config.task)
    examples = spec.read(config.options.dev_split)[:sentences]
    features = task_data.encode(spec, tokenizer, examples, config)
    return model, spec.kind, features, tokenizer.pad_id


def _seconds(model, batches: list[dict], repeats: int) -> float:
    """Best wall time over ``repeats`` passes of ``batches`` (after one warm-up batch)."""
    with torch.no_grad():
        model(batches[0])
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            for batch in batches:
                model(batch)
            best = min(best, time.perf_counter() - started)
    return best


def measure_speed(run_dir, sentences: int = 256, batch_size: int = 32, repeats: int = 3,
                  threads: int = 1) -> dict:
    """{"latency_ms_b1": ms per sentence at batch 1, "throughput_b32": sentences/s at
    ``batch_size``, "sentences", "threads"} for the run in ``run_dir``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, kind, features, pad_id = _inputs(run_dir, sentences)
        model.eval()
        single = [collate([f], kind, pad_id) for f in features]
        grouped = [collate(features[i:i + batch_size], kind, pad_id)
                   for i in range(0, len(features), batch_size)]
        one = _seconds(model, single, repeats)
        many = _seconds(model, grouped, repeats)
    finally:
        torch.set_num_threads(previous)
    return {"latency_ms_b1": round(1000 * one / len(features), 3),
            "throughput_b32": round(len(features) / many, 1), "sentences": len(features),
            "batch_size": batch_size, "threads": threads}
