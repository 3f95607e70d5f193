"""The ``lmlab`` command line: parse, then call one function. No logic lives here.

Each command group lives beside the code it drives (``lmlab/<area>/commands.py``) and
exposes ``add_commands(subparsers)``; the parsers it adds set ``run=<function(args)>``.
"""

from __future__ import annotations

import argparse
import sys

from lmlab import __version__
from lmlab.errors import LmlabError
from lmlab.ngram import commands as ngram_commands
from lmlab.recipes import commands as core_commands
from lmlab.recipes import (compare_commands, compress_commands, convert_commands,
                           finetune_commands, generate_commands, knowledge_commands,
                           report_commands, serve_commands)
from lmlab.wordvec import commands as wordvec_commands

# Modules that add sub-commands; read here and nowhere else (DESIGN §6.2).
COMMAND_MODULES = (
    core_commands,      # demo, train, eval, fill-mask, data
    generate_commands,  # generate (greedy, sampling, beam search; any model that generates)
    ngram_commands,     # ngram build / score
    wordvec_commands,   # embed train / eval / neighbors
    finetune_commands,  # finetune, evaluate, predict, benchmark
    compare_commands,   # compare (objective suites, Tables 1-2)
    report_commands,    # report (an HTML page of plots and tables)
    convert_commands,   # convert (HF transformers, ONNX)
    compress_commands,  # compress (dynamic int8, k-means, magnitude pruning; issue 20)
    serve_commands,     # serve (HTTP JSON API and a browser playground)
    knowledge_commands,  # knowledge transe (WordNet graph embeddings; issue 21)
)

EPILOG = """examples:
  lmlab demo
  lmlab train gpt/tiny --data ptb --set train.max_steps=2000 --out runs/gpt-tiny
  lmlab train --resume runs/gpt-tiny
  lmlab eval perplexity runs/gpt-tiny --data ptb --split test
  lmlab generate runs/gpt-tiny --prompt "the company said" --max-new-tokens 30 --top-p 0.9
  lmlab fill-mask runs/bert-tiny "the stock market [MASK] sharply"
  lmlab convert runs/bert-tiny --to hf exports/bert-tiny-hf
  lmlab data list
  lmlab report runs --out report.html
  lmlab serve runs/bert-tiny runs/gpt-tiny
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmlab", description="Train, evaluate and compare language models "
        "(Wang et al. 2020, 'Language Models Based on Deep Learning').",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(__version__)
        return 0
    if not callable(getattr(args, "run", None)):
        parser.print_help()
        return 2
    try:
        result = args.run(args)
    except LmlabError as error:
        print(f"lmlab: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lmlab: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
