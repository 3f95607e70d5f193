"""``lmlab embed train|eval|neighbors`` — thin wrappers over runs.py and evaluate.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lmlab.outputs import prepare_output_folder
from lmlab.wordvec import runs
from lmlab.wordvec.cw import CwConfig, train_cw_run
from lmlab.wordvec.evaluate import benchmark_path, evaluate_all, neighbors
from lmlab.wordvec.io import load_vectors
from lmlab.wordvec.multiproto import (MultiProtoConfig, avg_sim_pairs, load_senses,
                                      train_multiproto_run)
from lmlab.wordvec.word2vec import Word2VecConfig

TRAIN_EXAMPLES = """examples:
  lmlab embed train --method skipgram --loss negative --data wikitext-2 --out runs/sg
  lmlab embed train --method cbow --loss hs --data ptb --epochs 5 --workers 2 --out runs/cbow-hs
  lmlab embed train --method cw --data ptb --out runs/cw
  lmlab embed train --method multiproto --data wikitext-2 --prototypes 3 --out runs/mp
"""
EVAL_EXAMPLES = """examples:
  lmlab embed eval runs/sg
  lmlab embed eval vectors.bin --json
"""
NEIGHBOR_EXAMPLES = """examples:
  lmlab embed neighbors runs/sg king
  lmlab embed neighbors runs/mp bank --topn 5
"""


def add_commands(subparsers) -> None:
    """Add ``embed`` and its sub-commands to the ``lmlab`` parser."""
    embed = subparsers.add_parser("embed", help="word embeddings: word2vec, C&W, multi-prototype")
    commands = embed.add_subparsers(dest="embed_command", metavar="SUBCOMMAND")
    embed.set_defaults(run=lambda args: embed.print_help() or 2)

    raw = argparse.RawDescriptionHelpFormatter
    train = commands.add_parser("train", help="train word vectors", epilog=TRAIN_EXAMPLES,
                                formatter_class=raw)
    train.add_argument("--method", choices=["skipgram", "cbow", "cw", "multiproto"],
                       default="skipgram")
    train.add_argument("--loss", choices=["negative", "hs"], default="negative",
                       help="word2vec output layer: negative sampling or hierarchical softmax")
    train.add_argument("--data", required=True, nargs="+",
                       help="catalogue name(s) (ptb, wikitext-2: train split) or text file(s)")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--vector-size", type=int, default=100)
    train.add_argument("--window", type=int, default=5)
    train.add_argument("--negative", type=int, default=5)
    train.add_argument("--min-count", type=int, default=5)
    train.add_argument("--max-vocab", type=int, default=None)
    train.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold t")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--alpha", type=float, default=None,
                       help="initial learning rate (word2vec 0.025; C&W 0.1 with adagrad, "
                            "1.0 with sgd, on its batch-mean loss)")
    train.add_argument("--corruption", choices=["unigram", "uniform"], default="unigram",
                       help="C&W: corrupt centre words drawn by count^0.75 or uniformly (the papers)")
    train.add_argument("--optimizer", choices=["adagrad", "sgd"], default="adagrad",
                       help="C&W: adagrad (Polyglot) or plain sgd (the papers)")
    train.add_argument("--max-seconds", type=float, default=None,
                       help="C&W: stop training after this many seconds (a time budget)")
    train.add_argument("--cbow-sum", action="store_true", help="CBOW: sum, not mean, of context")
    train.add_argument("--workers", type=int, default=2)
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--backend", choices=["numba", "numpy"], default="numba")
    train.add_argument("--prototypes", type=int, default=3, help="multiproto: senses per word")
    train.add_argument("--format", action="append", choices=["text", "safetensors"], default=[],
                       help="also write vectors.txt / vectors.safetensors (vectors.bin always)")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the lmlab output already in --out (by default an existing "
                            "run is refused, and a folder never holds two kinds of model)")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("eval", help="WordSim-353, SimLex-999, Google analogy",
                                   epilog=EVAL_EXAMPLES, formatter_class=raw)
    evaluate.add_argument("vectors", help="run folder or vectors file (.bin/.txt/.safetensors)")
    evaluate.add_argument("--json", action="store_true", help="print the full result as JSON")
    evaluate.set_defaults(run=run_eval)

    near = commands.add_parser("neighbors", help="nearest words by cosine",
                               epilog=NEIGHBOR_EXAMPLES, formatter_class=raw)
    near.add_argument("vectors", help="run folder or vectors file")
    near.add_argument("word")
    near.add_argument("--topn", type=int, default=10)
    near.set_defaults(run=run_neighbors)


def _progress_factory(disabled: bool, bars: list):
    def make(total: int):
        from tqdm import tqdm
        bar = tqdm(total=total, unit="word", unit_scale=True, disable=disabled)
        bars.append(bar)
        return bar.update
    return make


def run_train(args) -> int:
    bars: list = []
    factory = _progress_factory(args.no_progress, bars)
    try:
        info = _train(args, factory)
    finally:
        for bar in bars:
            bar.close()
    print(f"{args.out}: {info['vocab_size']} words, {info['corpus_words']} corpus tokens, "
          f"{info.get('words_per_second', 0):,.0f} words/s")
    return 0


def _train(args, factory) -> dict:
    # Checked before training: a refusal after minutes of training would waste them.
    prepare_output_folder(args.out, "wordvec", args.overwrite)
    if args.method in ("skipgram", "cbow"):
        config = Word2VecConfig(
            method=args.method, loss=args.loss, vector_size=args.vector_size,
            window=args.window, negative=args.negative, min_count=args.min_count,
            max_vocab=args.max_vocab, sample=args.sample, epochs=args.epochs,
            alpha=args.alpha if args.alpha is not None else 0.025,
            cbow_mean=not args.cbow_sum, workers=args.workers, seed=args.seed,
            backend=args.backend)
        info = runs.train_run(args.data, args.out, config, tuple(args.format), factory)
    elif args.method == "cw":
        config = CwConfig(vector_size=args.vector_size, window=args.window,
                          min_count=args.min_count, max_vocab=args.max_vocab,
                          epochs=args.epochs, seed=args.seed,
                          learning_rate=args.alpha, max_seconds=args.max_seconds,
                          corruption=args.corruption, optimizer=args.optimizer)
        info = train_cw_run(args.data, args.out, config, tuple(args.format), factory)
    else:
        config = MultiProtoConfig(vector_size=args.vector_size, window=args.window,
                                  negative=args.negative, min_count=args.min_count,
                                  max_vocab=args.max_vocab, sample=args.sample,
                                  epochs=args.epochs, prototypes=args.prototypes,
                                  workers=args.workers, seed=args.seed, backend=args.backend)
        info = train_multiproto_run(args.data, args.out, config, tuple(args.format), factory)
    return info


def run_eval(args) -> int:
    words, vectors = load_vectors(args.vectors)
    result = evaluate_all(words, vectors)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name in ("wordsim353", "simlex999"):
        r = result[name]
        if r["spearman"] is None:
            print(f"{name:11s} too few pairs in the vocabulary ({r['pairs']}; oov {r['oov']})")
            continue
        print(f"{name:11s} spearman {r['spearman']:.4f}  pearson {r['pearson']:.4f}  "
              f"pairs {r['pairs']}  oov {r['oov']} ({r['oov_ratio']:.1f}%)")
    analogy = result["analogy"]
    for section in analogy["sections"]:
        print(f"  {section['section']:28s} {100 * section['accuracy']:5.1f}% "
              f"({section['correct']}/{section['total']})")
    print(f"analogy     total {100 * analogy['accuracy']:.2f}% ({analogy['correct']}/"
          f"{analogy['total']})  oov {analogy['oov']} ({analogy['oov_ratio']:.1f}%)")
    _eval_senses(args.vectors)
    return 0


def _eval_senses(run) -> None:
    """Multi-prototype runs: AvgSim Spearman too (vectors.bin holds each word's mean sense)."""
    if not (Path(run) / "senses.bin").exists():
        return
    words, senses = load_senses(run)
    for name in ("wordsim353", "simlex999"):
        r = avg_sim_pairs(words, senses, benchmark_path(name))
        rho = "n/a" if r["spearman"] is None else f"{r['spearman']:.4f}"
        print(f"{name:11s} AvgSim spearman {rho}  pairs {r['pairs']}  oov {r['oov']}")


def run_neighbors(args) -> int:
    words, vectors = load_vectors(args.vectors)
    for word, score in neighbors(words, vectors, args.word, args.topn):
        print(f"{score:.4f}  {word}")
    return 0
