"""Core sub-commands: train, consolidate, eval, fill-mask, data, demo. Thin: parse and call."""

from __future__ import annotations

import argparse
import json

import torch

from lmlab.config import load_config
from lmlab.crosslingual.parallel import DEFAULT_PARALLEL, HELD_OUT_PAIRS
from lmlab.data import catalogue
from lmlab.data.english_corpus import build_english_corpus
from lmlab.errors import LmlabError
from lmlab.evaluation.fill_mask import fill_mask
from lmlab.outputs import prepare_output_folder
from lmlab.presets import preset_path
from lmlab.recipes import multimodal_commands
from lmlab.recipes.arguments import non_negative_int, positive_int
from lmlab.recipes.data_info import dataset_info
from lmlab.recipes.demo import run_demo
from lmlab.recipes.evaluate import perplexity_of_run
from lmlab.recipes.retrieval import retrieval_of_run
from lmlab.training import trainer
from lmlab.training.checkpoint import consolidate, load_run
from lmlab.training.distributed import is_main_process

HELP = argparse.RawDescriptionHelpFormatter


def _say(line: str) -> None:
    """Print, from one process only when torchrun started several."""
    if is_main_process():
        print(line)


def _train(args) -> int:
    overrides = list(args.set or [])
    config_file = preset_path(args.config) if args.config else None
    if multimodal_commands.is_multimodal(config_file, args.resume):  # issue 22
        return multimodal_commands.train(config_file, args.out, args.resume,
                                         overrides + ([f"data.dataset={args.data}"]
                                                      if args.data else []),
                                         args.overwrite, _say)
    if args.data:
        overrides.append(f"data.dataset={args.data}")
    if args.resume:
        # With or without CONFIG, --set changes the saved run's config (only the keys
        # trainer.RESUMABLE may change); CONFIG only has to describe the same model.
        config = load_config(preset_path(args.config), overrides) if args.config else None
        result = trainer.train(config, args.resume, resume=True,
                               overrides_after_resume=overrides, log=_say)
    else:
        if not args.config or not args.out:
            raise SystemExit("lmlab train: give CONFIG and --out (or --resume RUN)")
        config = load_config(preset_path(args.config), overrides)
        if is_main_process():  # under torchrun, rank 0 alone checks and creates --out
            prepare_output_folder(args.out, "neural", args.overwrite)
        result = trainer.train(config, args.out, log=_say)
    _say(json.dumps({"run": str(result.run_dir), "steps": result.steps,
                      "train_seconds": round(result.train_seconds, 1),
                      "tokens_per_second": round(result.tokens_per_second),
                      # None for a run measured otherwise (context2vec: fill-slot accuracy)
                      "valid_perplexity": (round(result.valid["perplexity"], 2) if result.valid
                                           and "perplexity" in result.valid else None),
                      "stopped_early": result.stopped_early}))
    return 0


def _eval_perplexity(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    result = perplexity_of_run(args.run_dir, args.data, args.split, args.stride, args.max_tokens,
                               args.memory_length)
    print(json.dumps(result))
    return 0


def _eval_retrieval(args) -> int:  # issue 24
    print(json.dumps(retrieval_of_run(args.run_dir, args.parallel, args.held_out, args.layer,
                                      args.max_len)))
    return 0


def _fill_mask(args) -> int:
    config, tokenizer, model = load_run(args.run_dir)
    if model.is_seq2seq:  # its encoder has no cloze head: the LM head reads the decoder
        raise LmlabError(f"{args.run_dir} is an encoder–decoder "
                         f"({config.objectives[0].describe()}), not a masked LM; fill-mask "
                         f"needs a masked LM (bert/tiny, roberta/tiny, ...)")
    predictions = fill_mask(model, tokenizer, args.text, args.top_k)
    if not predictions:
        print(f"no {tokenizer.id_to_token(tokenizer.mask_id)} token in the text")
        return 1
    for index, candidates in enumerate(predictions, start=1):
        print(f"[MASK] #{index}: " + "  ".join(f"{token} ({p:.3f})" for token, p in candidates))
    return 0


def _data_list(args) -> int:
    for name in catalogue.names():
        entry = catalogue.get(name)
        print(f"{name:18} {', '.join(entry.splits):20} {entry.description}")
    print(f"data directory: {catalogue.data_dir()} (set LMLAB_DATA to change)")
    return 0


def _data_info(args) -> int:
    print(json.dumps(dataset_info(args.name, verify=args.verify), indent=1))
    return 0


def _data_download(args) -> int:
    """Fetch the missing files of a dataset into LMLAB_DATA (checked against their pinned
    sha256, written atomically); files already there are kept."""
    entry = catalogue.get(args.name)
    paths = {split: str(catalogue.resolve(args.name, split, allow_download=True))
             for split in entry.splits}
    print(json.dumps({"dataset": args.name, "files": paths}))
    return 0


def _data_build_english(args) -> int:
    summary = build_english_corpus(args.out)
    print(json.dumps({"out": args.out, **summary["total"]}))
    return 0


def _demo(args) -> int:
    run_demo(out=args.out, budget_seconds=args.budget, data=args.data)
    return 0


def _consolidate(args) -> int:
    print(f"wrote {consolidate(args.folder)}/model.safetensors")
    return 0


def add_commands(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a model from a preset", formatter_class=HELP,
        epilog="examples:\n  lmlab train gpt/tiny --data ptb --out runs/gpt-tiny\n"
               "  lmlab train bert/tiny --out runs/bert-tiny --set train.max_steps=500\n"
               "  lmlab train --resume runs/gpt-tiny --set train.max_steps=4000")
    train.add_argument("config", nargs="?", help="preset YAML path or family/size name")
    train.add_argument("--data", help="dataset name or path (overrides data.dataset)")
    train.add_argument("--out", help="run folder to create")
    train.add_argument("--resume", metavar="RUN", help="continue the run saved in RUN")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the lmlab output already in --out (by default an existing "
                            "run is refused, and a folder never holds two kinds of model)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value, e.g. train.max_steps=2000 (repeatable)")
    train.set_defaults(run=_train)

    merge = subparsers.add_parser(
        "consolidate", help="rewrite a sharded (FSDP) checkpoint as one model.safetensors",
        epilog="example:\n  lmlab consolidate runs/gpt-fsdp", formatter_class=HELP)
    merge.add_argument("folder", metavar="RUN",
                       help="run folder whose checkpoint has one file per rank")
    merge.set_defaults(run=_consolidate)

    evaluate = subparsers.add_parser("eval", help="evaluate a run")
    eval_kinds = evaluate.add_subparsers(dest="eval_kind", metavar="KIND")
    perplexity = eval_kinds.add_parser(
        "perplexity", help="perplexity on a split", formatter_class=HELP,
        epilog="examples:\n  lmlab eval perplexity runs/gpt-tiny --data ptb --split test\n"
               "  lmlab eval perplexity runs/kn5 --data ptb --split test\n"
               "  lmlab eval perplexity runs/xl-tiny --memory-length 256")
    perplexity.add_argument("run_dir", metavar="RUN", help="run folder")
    perplexity.add_argument("--data", help="dataset (default: the one the run trained on)")
    perplexity.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    perplexity.add_argument("--stride", type=positive_int, default=None,
                            help="transformer window stride, 1 to seq_len (default seq_len // 2)")
    perplexity.add_argument("--max-tokens", type=non_negative_int, default=0,
                            help="score only this many (default 0: all)")
    perplexity.add_argument("--memory-length", type=non_negative_int, default=None,
                            metavar="M", help="Transformer-XL: read with a memory of M "
                                              "(default: the run's own; 0 = none)")
    perplexity.add_argument("--threads", type=int, default=0,
                            help="torch CPU threads (default: PyTorch's; 1 is fastest on a "
                                 "loaded machine)")
    perplexity.set_defaults(run=_eval_perplexity)
    retrieval = eval_kinds.add_parser(
        "retrieval", help="parallel sentence retrieval accuracy@1 on the held-out pairs",
        formatter_class=HELP,
        epilog="example:\n  lmlab eval retrieval runs/xlm-tiny --layer -1   (issue 24)")
    retrieval.add_argument("run_dir", metavar="RUN", help="run folder")
    retrieval.add_argument("--parallel", default=DEFAULT_PARALLEL,
                           help="source<TAB>target file (or a.en,a.zh) whose seeded held-out "
                                "pairs are scored (default: the news-commentary en-zh sample)")
    retrieval.add_argument("--held-out", type=positive_int, default=HELD_OUT_PAIRS,
                           help="pairs held out (default 500, as training keeps them out)")
    retrieval.add_argument("--layer", type=int, default=-1,
                           help="encoder layer whose states are mean-pooled: 1..L, or -1 (top)")
    retrieval.add_argument("--max-len", type=positive_int, default=128,
                           help="tokens per sentence with [CLS] and [SEP]")
    retrieval.set_defaults(run=_eval_retrieval)

    fill = subparsers.add_parser(
        "fill-mask", help="predict [MASK] tokens with a masked LM", formatter_class=HELP,
        epilog='example:\n  lmlab fill-mask runs/bert-tiny "the stock market [MASK] sharply"')
    fill.add_argument("run_dir", metavar="RUN", help="run folder")
    fill.add_argument("text")
    fill.add_argument("--top-k", type=int, default=5)
    fill.set_defaults(run=_fill_mask)

    data = subparsers.add_parser("data", help="the dataset catalogue")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_commands.add_parser("list", help="list datasets").set_defaults(run=_data_list)
    info = data_commands.add_parser("info", help="files, sizes and checksums of a dataset")
    info.add_argument("name")
    info.add_argument("--verify", action="store_true", help="check sha256 pins")
    info.set_defaults(run=_data_info)
    download = data_commands.add_parser(
        "download", help="fetch a dataset's missing files into LMLAB_DATA (sha256-checked)")
    download.add_argument("name")
    download.set_defaults(run=_data_download)
    english = data_commands.add_parser(
        "build-english", formatter_class=HELP,
        help="pool the English text of LMLAB_DATA that no evaluation scores (WikiText-2, "
             "NLTK corpora, GLUE/SentEval train texts), deduplicated against every dev/test "
             "file, into a folder for data.dataset",
        epilog="example:\n  lmlab data build-english --out runs/en-corpus\n"
               "  lmlab train roberta/tiny --set data.dataset=runs/en-corpus "
               "--set data.tokenizer.kind=wordpiece")
    english.add_argument("--out", required=True, help="folder to write train.txt, valid.txt, "
                                                      "sources.json")
    english.set_defaults(run=_data_build_english)

    demo = subparsers.add_parser(
        "demo", help="train NNLM, RNNLM, LSTM, attention RNN, GPT and BERT on PTB and print a "
                     "comparison table with KN3/KN5",
        formatter_class=HELP, epilog="example:\n  lmlab demo --budget 1000 --out results/demo")
    demo.add_argument("--budget", type=float, default=1000.0,
                      help="total training seconds, shared equally by the six neural "
                           "models (default 1000)")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--data", default="ptb")
    demo.set_defaults(run=_demo)
