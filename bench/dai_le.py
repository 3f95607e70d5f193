"""Dai & Le (2015), "Semi-supervised Sequence Learning": does pre-training an LSTM as a
sequence autoencoder (SA-LSTM) or as a language model (LM-LSTM) help a classifier
initialised from it, against the same LSTM from random weights? (Their Tables 1-4 on
IMDB, Rotten Tomatoes, 20 Newsgroups, DBpedia; here SST-2 and AG News, issue 19.)

Protocol, one for every row:

* Unlabeled text: the tasks' own training text, as the paper pre-trains on the task's
  (unlabeled) domain text: every glue/sst2 train sentence (67k phrases, labels dropped)
  and the 6000 topic/ag_news train texts, shuffled (seed 0) into one file; its last 10 %
  of lines are the pre-training valid/test split. No dev or test text is in it.
* One tokenizer for all rows: lowercased WordPiece, 8000 entries, trained on that file.
* SA-LSTM = ``sa_lstm/tiny`` (1 layer x 256, shared encoder/decoder weights);
  LM-LSTM = the same preset with ``objectives=[{name: clm}]`` and ``data.batching=stream``
  (Zaremba-style carried state); both for the same number of steps of 32 x 32 tokens,
  Adam 1e-3. An SA step reads every token twice (encoder + decoder), so it costs ~2x.
* Random LSTM: the same architecture with random weights, saved as a run by
  ``lmlab compare``'s untrained unit (``recipes.compare.untrained_unit``).
* Fine-tuning: ``lmlab finetune RUN --pooling last`` (a fresh dense + tanh + linear on the
  LSTM's state at the last real token, [SEP]), AdamW lr 1e-3, 3 epochs, batch 32, dropout
  0.1, the same for all rows (no per-row tuning); SST-2 on a fixed 5000-example subset
  of its train split (fine-tuning all 67k would not fit the time budget), AG News on its
  6000 train examples; dev accuracy, mean ± std over 3 seeds.

    python bench/dai_le.py            # the table in README (about 20 min on 2 shared cores)
    python bench/dai_le.py --quick    # 20 pre-training steps, tiny subsets: the pipeline

Prints one JSON object (saved to bench/results/dai_le.json unless --quick).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

from lmlab.config import load_config
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.loop import finetune
from lmlab.presets import preset_path
from lmlab.recipes.compare import untrained_unit
from lmlab.tasks.catalogue import get_task
from lmlab.training.trainer import train

RESULT = Path(__file__).parent / "results" / "dai_le.json"
TASKS = {"glue/sst2": 64, "topic/ag_news": 128}  # task -> max_seq_len
TOKENIZER = ["data.tokenizer.kind=wordpiece", "data.tokenizer.vocab_size=8000",
             "data.tokenizer.lowercase=true"]
LM_LSTM = ["objectives=[{name: clm}]", "data.batching=stream", "model.family=lm_lstm"]


def write_corpus(path: Path) -> dict:
    """The tasks' train texts, labels dropped, shuffled into one file (one text a line)."""
    texts = [e.text_a for e in get_task("glue/sst2").read("train")]
    sst2 = len(texts)
    texts += [e.text_a for e in get_task("topic/ag_news").read("train")]
    random.Random(0).shuffle(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
    return {"file": str(path), "lines": len(texts), "sst2_train_sentences": sst2,
            "ag_news_train_texts": len(texts) - sst2,
            "words": sum(len(t.split()) for t in texts)}


def pretrain_overrides(corpus: Path, steps: int) -> list[str]:
    every = max(1, steps)
    return [f"data.dataset={corpus}", *TOKENIZER, f"train.max_steps={steps}",
            f"train.eval_every={every}", f"train.checkpoint_every={every}",
            "train.eval_batches=20", "train.progress=false", "train.num_threads=1",
            "train.log_every=100"]


def pretrain(label: str, overrides: list[str], folder: Path, log) -> dict:
    config = load_config(preset_path("sa_lstm/tiny"), overrides)
    started = time.perf_counter()
    if (folder / "checkpoint").exists():  # finished earlier: keep it (rerun-safe)
        log(f"{label}: using {folder}")
        return {"run_dir": str(folder)}
    log(f"{label}: pre-training {config.train.max_steps} steps")
    result = train(config, folder, log=lambda *_: None)
    return {"run_dir": str(folder), "steps": result.steps, "final_loss": result.final_loss,
            "valid": result.valid, "seconds": round(time.perf_counter() - started, 1)}


def fine_tune_all(bases: dict, options: dict, out: Path, log) -> dict:
    rows = {}
    for label, base in bases.items():
        rows[label] = {}
        for task, max_len in TASKS.items():
            opts = FinetuneOptions(**options[task], max_seq_len=max_len)
            started = time.perf_counter()
            log(f"fine-tune {label} on {task}")
            summary = finetune(base, task, opts, out / label / task.replace("/", "_"),
                               command="bench/dai_le.py", resume=True)
            rows[label][task] = {
                "accuracy": summary["scores"]["accuracy"],
                "per_seed": [run["best"]["accuracy"] for run in summary["runs"]],
                "train_examples": summary["train_examples"],
                "dev_examples": summary["dev_examples"], "unk_rate": summary["unk_rate"],
                "seconds": round(time.perf_counter() - started, 1)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run of the whole pipeline")
    parser.add_argument("--steps", type=int, default=1000, help="pre-training steps (each)")
    parser.add_argument("--work", default="runs/dai_le", help="folder for runs and corpus")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sst2-train", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning peak lr (all rows); "
                        "another value reuses the pre-trained runs and writes dai_le_lr<LR>.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work + ("_quick" if args.quick else ""))
    steps = 20 if args.quick else args.steps
    log = lambda message: print(f"[{time.strftime('%H:%M:%S')}] {message}",  # noqa: E731
                                file=sys.stderr, flush=True)
    started = time.perf_counter()

    corpus = write_corpus(work / "corpus" / "unlabeled.txt")
    common = pretrain_overrides(Path(corpus["file"]), steps)
    sa = pretrain("SA-LSTM", common, work / "sa_lstm", log)
    lm = pretrain("LM-LSTM", common + LM_LSTM, work / "lm_lstm", log)
    untrained_unit(load_config(preset_path("sa_lstm/tiny"), common), work / "random", log)
    bases = {"random LSTM": str(work / "random"), "LM-LSTM": lm["run_dir"],
             "SA-LSTM": sa["run_dir"]}

    shared = {"lr": args.lr, "epochs": 1.0 if args.quick else 3.0, "batch_size": 32,
              "pooling": "last", "dropout": 0.1, "seeds": args.seeds[:2] if args.quick
              else args.seeds, "num_threads": 1, "progress": False, "max_unk_rate": 1.0}
    options = {"glue/sst2": {**shared, "max_train_examples": 200 if args.quick
                             else args.sst2_train, "dev_split": "dev[:200]" if args.quick
                             else "dev"},
               "topic/ag_news": {**shared, "max_train_examples": 200 if args.quick else 0,
                                 "dev_split": "dev[:200]" if args.quick else "dev"}}
    tag = "" if args.lr == 1e-3 else f"_lr{args.lr:g}"
    rows = fine_tune_all(bases, options, work / f"finetune{tag}", log)

    result = {"bench": "dai_le", "quick": args.quick, "pretrain_steps": steps,
              "unlabeled_text": corpus, "tokenizer": TOKENIZER,
              "sa_lstm": {"preset": "sa_lstm/tiny", **sa},
              "lm_lstm": {"preset": "sa_lstm/tiny", "overrides": LM_LSTM, **lm},
              "finetune_options": options, "dev_accuracy": rows,
              "wall_seconds": round(time.perf_counter() - started, 1),
              "torch_threads": torch.get_num_threads(), "device": "cpu",
              "command": "python bench/dai_le.py" + (" --quick" if args.quick else "") +
              (f" --lr {args.lr:g}" if tag else "")}
    text = json.dumps(result, indent=1)
    if not args.quick:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.with_name(f"dai_le{tag}.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
