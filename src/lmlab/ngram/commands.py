"""``lmlab ngram build`` and ``lmlab ngram score``: thin wrappers over the ngram modules."""

from __future__ import annotations

import argparse
import json
import sys

from lmlab.errors import ConfigError
from lmlab.ngram.arpa import read_arpa
from lmlab.ngram.run_folder import build_run, load_run
from lmlab.ngram.score import iter_scores, perplexity
from lmlab.ngram.source import iter_token_sentences, resolve_data
from lmlab.ngram.vocab import tokenize

BUILD_EPILOG = """examples:
  lmlab ngram build -o 5 --data ptb --out runs/kn5
  lmlab ngram build -o 3 --data corpus.txt --out runs/kn3 --prune 0 0 1 --vocab-limit 20000
  lmlab ngram build -o 4 --data wikitext-2 --out runs/wb4 --smoothing wb
  lmlab ngram build -o 5 --data big.txt --out runs/big5 --memory 200   # counting in 200 MiB

A literal <unk> in the text is an ordinary word, spelled UNKW in the model (as one
rewrites PTB before running KenLM's lmplz); <s> and </s> in the text are refused.
"""

SCORE_EPILOG = """examples:
  lmlab ngram score runs/kn5 --data ptb --split test          # perplexity (KenLM conventions)
  lmlab ngram score runs/kn5 --file sentences.txt --per-word  # like KenLM's query
  lmlab ngram score runs/kn5 --arpa other.arpa --sentence "the market fell"
"""


def add_commands(subparsers) -> None:
    """Add ``ngram build`` and ``ngram score`` to the ``lmlab`` parser."""
    ngram = subparsers.add_parser("ngram", help="statistical n-gram LMs (modified Kneser-Ney, ARPA)",
                                  description="Count-based n-gram language models.")
    verbs = ngram.add_subparsers(dest="ngram_command", metavar="VERB")

    build = verbs.add_parser("build", help="estimate a model and write a run folder",
                             epilog=BUILD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("-o", "--order", type=int, required=True, help="n-gram order, 1..9")
    build.add_argument("--data", required=True, help="dataset name (train split) or text file")
    build.add_argument("--out", required=True, help="run folder to write")
    build.add_argument("--smoothing", default="mkn", choices=["mkn", "kn", "wb", "addk"],
                       help="mkn: modified Kneser-Ney as KenLM lmplz (default); kn: one "
                            "discount; wb: Witten-Bell; addk: add-k with Katz backoff")
    build.add_argument("--prune", type=int, nargs="+", metavar="T",
                       help="lmplz semantics: drop n-grams of order i with count <= T_i "
                            "(e.g. 0 0 1); the last value repeats")
    build.add_argument("--vocab-limit", type=int, help="keep the N most frequent words; "
                       "the rest become <unk>")
    build.add_argument("--discount-fallback", action="store_true",
                       help="use D = 0.5 1 1.5 when discounts cannot be estimated (tiny data)")
    build.add_argument("--add-k", type=float, default=0.1, help="k for --smoothing addk")
    build.add_argument("--memory", type=float, metavar="MB",
                       help="memory budget for counting in MiB (like lmplz -S): sorted runs "
                            "spill to a temporary folder in --out and are merged streaming")
    build.add_argument("--overwrite", action="store_true",
                       help="replace the lmlab output already in --out (by default an existing "
                            "run is refused, and a folder never holds two kinds of model)")
    build.set_defaults(run=run_build)

    score = verbs.add_parser("score", help="perplexity or per-word scores of text",
                             epilog=SCORE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_argument("run_folder", nargs="?", help="run folder from 'ngram build'")
    score.add_argument("--arpa", help="score with this ARPA file instead of a run folder")
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="dataset name (use --split) or text file")
    source.add_argument("--file", help="text file, one sentence per line")
    source.add_argument("--sentence", action="append", help="a sentence (repeatable)")
    score.add_argument("--split", default="test", help="split of --data (default: test)")
    score.add_argument("--per-word", action="store_true",
                       help="print 'word=id order log10p' per word and the total, like KenLM query")
    score.set_defaults(run=run_score)


def run_build(args) -> int:
    info = build_run(args.data, args.order, args.out, args.smoothing, args.prune,
                     args.vocab_limit, discount_fallback=args.discount_fallback, add_k=args.add_k,
                     memory_mb=args.memory, overwrite=args.overwrite)
    print(json.dumps({key: info[key] for key in ("order", "smoothing", "vocab_size",
                      "ngram_counts", "build_seconds", "peak_memory_mb")}))
    print(f"wrote {args.out}/model.arpa", file=sys.stderr)
    return 0


def run_score(args) -> int:
    if bool(args.arpa) == bool(args.run_folder):
        raise ConfigError("give a run folder or --arpa FILE (one of them)")
    model = read_arpa(args.arpa) if args.arpa else load_run(args.run_folder)
    if args.sentence:
        sentences = [tokenize(s, "--sentence") for s in args.sentence]
    else:
        sentences = iter_token_sentences(args.file or resolve_data(args.data, args.split))
    if not args.per_word:
        print(json.dumps(perplexity(model, sentences)))
        return 0
    total = 0.0
    tokens = oov = 0
    for result in iter_scores(model, sentences):
        parts = []
        for word, value, order, unknown in zip(result.words, result.log10_probs.tolist(),
                                               result.orders.tolist(), result.oov.tolist()):
            index = 0 if unknown else model.vocab.word_to_id[word]
            parts.append(f"{word}={index} {order} {value:.7g}")
        print("\t".join(parts) + f"\tTotal: {result.total:.7g} OOV: {int(result.oov.sum())}")
        total += result.total
        tokens += len(result.words)
        oov += int(result.oov.sum())
    if tokens:
        print(f"Perplexity including OOVs:\t{10 ** (-total / tokens):.7g}")
        print(f"OOVs:\t{oov}\nTokens:\t{tokens}")
    return 0
