"""``lmlab compress``: thin: parse and call :func:`lmlab.recipes.compress.compress_run`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from lmlab.recipes.compress import METHODS, compress_run

EXAMPLES = """examples:
  lmlab compress runs/sst2 --method dynamic_int8 --out runs/sst2-int8
  lmlab compress runs/sst2 --method kmeans --bits 4 --out runs/sst2-km4
  lmlab compress runs/sst2 --method magnitude --sparsity 0.5 --scope matrix --out runs/sst2-p50
  lmlab evaluate runs/sst2-km4 --split dev
docs/compression.md
"""


def _compress(args) -> int:
    summary = compress_run(args.run_dir, args.method, args.out, args.bits, args.sparsity,
                           args.scope, args.overwrite,
                           "lmlab " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    print(json.dumps({k: summary[k] for k in ("method", "settings", "params", "nonzero_params",
                                              "size_bytes_estimate", "size_ratio")}
                     | {"out": args.out}))
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "compress", help="compress a fine-tuned run (dynamic int8, k-means, magnitude pruning)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN", help="a fine-tuned run folder")
    parser.add_argument("--method", required=True, choices=METHODS)
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
    parser.set_defaults(run=_compress)
