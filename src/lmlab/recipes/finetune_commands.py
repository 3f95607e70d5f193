"""Fine-tuning sub-commands: finetune, evaluate, predict, benchmark. Thin: parse and call."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from lmlab.config import from_dict
from lmlab.errors import ConfigError, DataError
from lmlab.finetune.config import FinetuneOptions
from lmlab.finetune.evaluate import evaluate_run, predict_file
from lmlab.finetune.loop import finetune
from lmlab.finetune.multitask import multitask_finetune
from lmlab.finetune.feature_loop import FeatureTaskOptions
from lmlab.recipes import multimodal_commands
from lmlab.recipes.benchmark import run_benchmark
from lmlab.outputs import kind_of
from lmlab.recipes.feature_based import (evaluate_feature_run, predict_feature_file,
                                         run_feature_based)

EXAMPLES = """examples:
  lmlab finetune runs/bert-tiny --task glue/sst2 --out runs/sst2
  lmlab finetune hf:path/to/all-MiniLM-L6-v2 --task glue/mrpc --epochs 5 --seeds 1 2 3 --out runs/mrpc
  lmlab finetune hf:path/to/all-MiniLM-L6-v2 --multitask glue/sst2 glue/mrpc glue/rte --out runs/mtdnn
  lmlab finetune runs/bart-tiny --task gen/ag_news_headlines --num-beams 4 --out runs/headlines
  lmlab finetune runs/t5-tiny --task glue/sst2 --text-to-text --out runs/sst2-t5
  lmlab finetune vectors:runs/sg --task ner/conll2003 --feature-based --out runs/ner-sg
  lmlab finetune elmo:runs/elmo --task glue/sst2 --feature-based --feature-layers mix \\
      --out runs/sst2-elmo
  lmlab finetune runs/multifit --task clue/chnsenticorp --pooling last \
      --pseudo-labels-from runs/xlmr-sst2 --out runs/chn-bootstrapped
  lmlab evaluate runs/sst2 --task glue/sst2 --split dev
  lmlab predict runs/sst2 --input new.tsv --out preds.txt
  lmlab benchmark --suite glue --model runs/bert-tiny --out results/
"""


def _options(args):
    names = ["lr", "epochs", "batch_size", "eval_batch_size", "max_seq_len", "warmup_ratio",
             "weight_decay", "seeds", "patience", "evals_per_epoch", "max_train_examples",
             "subset_seed", "pooling", "dropout", "crf", "doc_stride", "max_answer_length",
             "max_unk_rate", "num_threads", "train_split", "dev_split", "max_target_len",
             "num_beams", "length_penalty", "no_repeat_ngram_size", "target_mask_rate", "text_to_text",
             "kbert_relations", "kbert_max_branches", "schedule", "label_smoothing",
             "pseudo_labels_from"]
    raw = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    raw["progress"] = not args.quiet
    return from_dict(FinetuneOptions, raw, "finetune")


def _command() -> str:
    return "lmlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _feature_options(args) -> FeatureTaskOptions:
    names = ["lr", "batch_size", "seeds", "max_train_examples", "subset_seed", "dropout",
             "num_threads", "train_split", "dev_split", "feature_layers"]
    raw = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if args.epochs is not None:
        raw["epochs"] = int(args.epochs)
    if args.max_seq_len is not None:
        raw["max_words"] = args.max_seq_len
    raw["progress"] = not args.quiet
    return from_dict(FeatureTaskOptions, raw, "feature_based")


def _finetune(args) -> int:
    if args.pseudo_labels_from and (args.feature_based or args.multitask):
        raise ConfigError("--pseudo-labels-from: only with --task (one classification task)")
    if args.feature_based:
        result = run_feature_based(args.base, args.task, _feature_options(args), args.out,
                                   _command())
        print(json.dumps({k: result[k] for k in ("task", "metric", "scores", "best_seed",
                                                  "train_seconds_per_seed", "oov")}))
        return 0
    if args.feature_layers is not None:
        raise ConfigError("--feature-layers: only with --feature-based")
    if args.multitask:  # MT-DNN (issue 21): docs/knowledge.md
        if args.task:
            raise ConfigError("--task: not with --multitask (the tasks are its arguments)")
        result = multitask_finetune(args.base, args.multitask, _options(args), args.out,
                                    args.multitask_epochs, args.single_task_baseline,
                                    _command(), args.overwrite)
        print(json.dumps({k: result[k] for k in ("tasks", "scores")}))
        return 0
    if not args.task:
        raise ConfigError("--task: required (or --multitask TASK TASK ...)")
    result = finetune(args.base, args.task, _options(args), args.out, _command(),
                      resume=args.resume, overwrite=args.overwrite)
    print(json.dumps({k: result[k] for k in ("task", "metric", "scores", "best_seed",
                                              "train_seconds_per_seed", "unk_rate")}))
    return 0


def _feature_based(run_dir: str) -> bool:
    return kind_of(run_dir) == "feature_based"


def data_split(split: str | None, data: str | None) -> str:
    """The split ``evaluate`` scores: ``--data FILE`` as a path (always read as a file, even
    without a folder or a known suffix), else ``--split`` (default ``dev``)."""
    if data and split:
        raise ConfigError(f"evaluate: give --split ({split}) or --data ({data}), not both")
    if data:
        if not Path(data).is_file():
            raise DataError(f"--data {data}: no such file")
        return str(Path(data).resolve())
    return split or "dev"


def _evaluate(args) -> int:
    if multimodal_commands.is_multimodal(run_dir=args.run_dir):  # issue 22: easy-VQA dev
        return multimodal_commands.evaluate(args.run_dir)
    evaluate = evaluate_feature_run if _feature_based(args.run_dir) else evaluate_run
    print(json.dumps(evaluate(args.run_dir, args.task, data_split(args.split, args.data))))
    return 0


def _predict(args) -> int:
    if multimodal_commands.is_multimodal(run_dir=args.run_dir):  # issue 22: image + question
        return multimodal_commands.predict(args.run_dir, args.image, args.question,
                                           not args.no_resize)
    if not args.input or not args.out:
        raise ConfigError(f"{args.run_dir}: give --input FILE and --out FILE (--image and "
                          f"--question are for multimodal runs)")
    predict = predict_feature_file if _feature_based(args.run_dir) else predict_file
    count = predict(args.run_dir, args.input, args.out, args.overwrite)
    print(json.dumps({"predictions": count, "out": args.out}))
    return 0


def _benchmark(args) -> int:
    report = run_benchmark(args.suite, args.model or [], args.out, _options(args), args.tasks,
                           not args.no_bow, _command(), args.overwrite)
    print(json.dumps({"suite": report["suite"], "available": report["available"],
                      "missing": list(report["missing"]), "out": args.out}))
    return 0


def _add_options(parser) -> None:
    group = parser.add_argument_group("fine-tuning options (unset: the task family's defaults, "
                                      "lmlab.finetune.config.FAMILY_DEFAULTS)")
    group.add_argument("--lr", type=float)
    group.add_argument("--epochs", type=float)
    group.add_argument("--batch-size", dest="batch_size", type=int)
    group.add_argument("--eval-batch-size", dest="eval_batch_size", type=int)
    group.add_argument("--max-seq-len", dest="max_seq_len", type=int)
    group.add_argument("--warmup-ratio", dest="warmup_ratio", type=float)
    group.add_argument("--weight-decay", dest="weight_decay", type=float)
    group.add_argument("--schedule", choices=["linear", "one_cycle"],
                       help="linear warm-up and decay (default) or MultiFiT's cosine "
                            "one-cycle policy (rising over --warmup-ratio)")
    group.add_argument("--label-smoothing", dest="label_smoothing", type=float,
                       help="classification: label smoothing epsilon (MultiFiT: 0.1)")
    group.add_argument("--seeds", type=int, nargs="+", help="one run per seed (mean ± std)")
    group.add_argument("--patience", type=int, help="early stopping: evaluations without gain")
    group.add_argument("--evals-per-epoch", dest="evals_per_epoch", type=int)
    group.add_argument("--max-train-examples", dest="max_train_examples", type=int,
                       help="a fixed random subset of train (0 = all)")
    group.add_argument("--subset-seed", dest="subset_seed", type=int)
    group.add_argument("--pooling", choices=["cls", "mean", "last"])
    group.add_argument("--dropout", type=float)
    group.add_argument("--crf", action="store_true", default=None, help="CRF on a tagging head")
    group.add_argument("--doc-stride", dest="doc_stride", type=int)
    group.add_argument("--max-answer-length", dest="max_answer_length", type=int)
    group.add_argument("--max-unk-rate", dest="max_unk_rate", type=float)
    group.add_argument("--max-target-len", dest="max_target_len", type=int,
                       help="generation: reference tokens kept and most tokens generated")
    group.add_argument("--num-beams", dest="num_beams", type=int,
                       help="generation: beam width of dev/test decoding (1 = greedy)")
    group.add_argument("--length-penalty", dest="length_penalty", type=float)
    group.add_argument("--no-repeat-ngram-size", dest="no_repeat_ngram_size", type=int)
    group.add_argument("--text-to-text", dest="text_to_text", action="store_true", default=None,
                       help="GLUE as T5: generate the label as text (a seq2seq, GPT or "
                            "UniLM base)")
    group.add_argument("--target-mask-rate", dest="target_mask_rate", type=float,
                       help="UniLM generation fine-tuning: share of target tokens masked")
    group.add_argument("--kbert", dest="kbert_relations", nargs="+", metavar="RELATION",
                       help="K-BERT: inject WordNet triples of these relations (e.g. hypernym) "
                            "as a sentence tree; classification/regression (docs/knowledge.md)")
    group.add_argument("--kbert-max-branches", dest="kbert_max_branches", type=int)
    group.add_argument("--threads", dest="num_threads", type=int)
    group.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    group.add_argument("--train-split", dest="train_split")
    group.add_argument("--dev-split", dest="dev_split")
    group.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_overwrite(parser, what: str) -> None:
    parser.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def add_commands(subparsers) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    tune = subparsers.add_parser("finetune", help="fine-tune a run or hf:<dir> on a task",
                                 epilog=EXAMPLES, formatter_class=fmt)
    tune.add_argument("base", metavar="BASE", help="run folder or hf:<local HF BERT folder>")
    tune.add_argument("--task",
                      help="e.g. glue/sst2, clue/chnsenticorp, gen/ag_news_headlines")
    tune.add_argument("--multitask", nargs="+", metavar="TASK",
                      help="MT-DNN: multi-task fine-tuning of one shared encoder over these "
                           "tasks (sampled by size), then per-task fine-tuning")
    tune.add_argument("--multitask-epochs", dest="multitask_epochs", type=float, default=1.0,
                      help="--multitask: epochs of the multi-task stage (default 1)")
    tune.add_argument("--single-task-baseline", dest="single_task_baseline",
                      action="store_true", help="--multitask: also fine-tune each task alone "
                      "for multitask + per-task epochs, for the comparison table")
    tune.add_argument("--out", required=True)
    tune.add_argument("--pseudo-labels-from", dest="pseudo_labels_from", metavar="TEACHER_RUN",
                      help="cross-lingual bootstrapping (MultiFiT §3.3): train and select on "
                           "this fine-tuned classifier's predictions for the task's train and "
                           "dev texts instead of their gold labels (docs/crosslingual.md)")
    tune.add_argument("--resume", action="store_true",
                      help="continue the fine-tuning in --out (same options) where it stopped")
    _add_overwrite(tune, "the lmlab output already in --out (by default an existing run is "
                         "refused, and a folder never holds two kinds of model)")
    tune.add_argument("--feature-based", dest="feature_based", action="store_true",
                      help="BASE is a frozen feature source (random, vectors:<file or run>, "
                           "elmo:<run>, context2vec:<run>, transformer:<run>) read by one "
                           "BiLSTM task model (CRF tagger / mean-pooled classifier); "
                           "docs/feature_based.md")
    tune.add_argument("--feature-layers", dest="feature_layers", choices=["mix", "top"],
                      help="--feature-based: ELMo's scalar mix of every layer, or the top "
                           "layer only (default)")
    _add_options(tune)
    tune.set_defaults(run=_finetune)

    evaluate = subparsers.add_parser("evaluate", help="score a fine-tuned run on a task split")
    evaluate.add_argument("run_dir", metavar="RUN")
    evaluate.add_argument("--task", help="default: the run's own task")
    evaluate.add_argument("--split", help="a split name (default dev), or a file in the "
                                          "task's public format")
    evaluate.add_argument("--data", metavar="FILE",
                          help="score this file, in the task's public format (SQuAD v1.1 "
                               "JSON, XNLI / ChnSentiCorp TSV, GLUE TSV, ...), instead of a "
                               "split: e.g. a held-back test set")
    evaluate.set_defaults(run=_evaluate)

    predict = subparsers.add_parser("predict", help="labels for one example a line")
    predict.add_argument("run_dir", metavar="RUN")
    predict.add_argument("--input",
                         help="one example a line (pairs: two tab-separated columns)")
    predict.add_argument("--out", help="one label a line (never --input)")
    predict.add_argument("--image", help="multimodal runs: the picture's path (issue 22)")
    predict.add_argument("--question", help="multimodal runs: the question about --image")
    predict.add_argument("--no-resize", dest="no_resize", action="store_true",
                         help="multimodal runs: refuse a picture of another size")
    _add_overwrite(predict, "an existing --out file (by default it is refused)")
    predict.set_defaults(run=_predict)

    bench = subparsers.add_parser("benchmark", help="every available task of a suite, "
                                  "Table-2 layout (Markdown + JSON)", formatter_class=fmt)
    bench.add_argument("--suite", required=True, help="glue, clue or english")
    bench.add_argument("--model", action="append", help="run folder or hf:<dir>; repeatable")
    bench.add_argument("--tasks", nargs="+", help="a subset of the suite's tasks")
    bench.add_argument("--no-bow", action="store_true", help="skip the bag-of-words floor")
    bench.add_argument("--out", required=True, help="output folder; running the same "
                       "benchmark again continues it (finished tasks are kept)")
    _add_overwrite(bench, "the benchmark already in --out instead of continuing it")
    _add_options(bench)
    bench.set_defaults(run=_benchmark)
