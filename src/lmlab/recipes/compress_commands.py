"""``lmlab compress``: thin: parse and call :func:`lmlab.recipes.compress.compress_run`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import yaml

from lmlab.errors import ConfigError
from lmlab.recipes.compress import METHODS, compress_run

EXAMPLES = """examples:
  lmlab compress runs/sst2 --method dynamic_int8 --out runs/sst2-int8
  lmlab compress runs/sst2 --method kmeans --bits 4 --out runs/sst2-km4
  lmlab compress runs/sst2 --method magnitude --sparsity 0.5 --scope matrix --out runs/sst2-p50
  lmlab evaluate runs/sst2-km4 --split dev
methods and their settings (--set NAME=VALUE; defaults in brackets):
""" + "\n".join(f"  {name}: {method.help}" + "".join(
    f"\n      {key} [{value}]" for key, value in method.defaults.items())
    for name, method in METHODS.items()) + "\ndocs/compression.md\n"

SHORTHANDS = ("bits", "sparsity", "scope")
"""Settings that also have their own flag (--bits 4 is --set bits=4)."""


def parse_settings(pairs: list[str]) -> dict:
    """``["a=1", "b=x"]`` -> {"a": 1, "b": "x"} (values read as YAML scalars)."""
    settings = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ConfigError(f"--set {pair}: expected NAME=VALUE")
        settings[name.strip()] = yaml.safe_load(value) if value.strip() else ""
    return settings


def _compress(args) -> int:
    given = parse_settings(args.set or [])
    given.update({name: getattr(args, name) for name in SHORTHANDS
                  if getattr(args, name) is not None})
    summary = compress_run(args.run_dir, args.method, args.out, given, args.overwrite,
                           "lmlab " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                           log=lambda message: print(message, file=sys.stderr, flush=True),
                           resume=args.resume)
    print(json.dumps({k: summary[k] for k in ("method", "settings", "params", "nonzero_params",
                                              "size_bytes_estimate", "size_ratio")}
                     | {"out": args.out}))
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "compress", help="compress a fine-tuned run (quantization, pruning, distillation)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN", help="a fine-tuned run folder")
    parser.add_argument("--method", required=True, choices=list(METHODS))
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a setting of the method (repeatable); see the list below")
    parser.add_argument("--bits", type=int, help="kmeans: 2^bits centroids per weight matrix, "
                        "1..8 (default 4)")
    parser.add_argument("--sparsity", type=float, help="magnitude: share of weights removed, "
                        "0 <= S < 1 (default 0.5)")
    parser.add_argument("--scope", choices=["global", "matrix"],
                        help="magnitude: one threshold for all weight matrices or one per "
                             "matrix (default global)")
    parser.add_argument("--out", required=True, help="the compressed run folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the lmlab output already in --out")
    parser.add_argument("--resume", action="store_true",
                        help="continue the compression in --out (same method and settings) "
                             "from its last checkpoint")
    parser.set_defaults(run=_compress)
