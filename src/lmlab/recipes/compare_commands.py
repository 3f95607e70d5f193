"""``lmlab compare``: the objective comparison (review Tables 1–2). Thin: parse and call."""

from __future__ import annotations

import argparse
import json

from lmlab.errors import ConfigError
from lmlab.recipes.compare import run_compare
from lmlab.recipes.compare_features import is_feature_suite, run_feature_compare
from lmlab.recipes.compress_suite import is_compression_suite, run_compression_compare
from lmlab.recipes.crosslingual_suite import is_crosslingual_suite, run_crosslingual_compare
from lmlab.recipes.multimodal_suite import is_multimodal_suite, run_multimodal_compare

EXAMPLES = """examples:
  lmlab compare suites/objectives --out runs/compare
  lmlab compare suites/objectives --quick --out runs/compare-quick
  lmlab compare suites/objectives --budget 2e15 --out runs/compare-2e15
  lmlab compare suites/objectives_zh --out runs/compare-zh
  lmlab compare suites/seq2seq --out runs/compare-seq2seq   (BART Table 1: headlines, ROUGE)
  lmlab compare suites/objectives --suite-set finetune.seeds=[1,2] --out runs/c2
  lmlab compare suites/feature_based --out runs/features   (frozen features + BiLSTM, issue 19)
  lmlab compare suites/compression --out runs/compression   (Tables 6-7 on a MiniLM teacher, issue 20)
  lmlab compare suites/multimodal --quick --out runs/table8   (Table 8: easy-VQA, issue 22)
  lmlab compare suites/crosslingual --out runs/crosslingual   (mBERT/XLM/XLM-R/Unicoder, issue 24)

Re-running the same command continues an interrupted comparison (finished units are
skipped; an interrupted pre-training resumes from its checkpoint).
"""


def _compare(args) -> int:
    for matches, run in ((is_feature_suite, run_feature_compare),  # no FLOPs budget
                         (is_compression_suite, run_compression_compare),
                         (is_multimodal_suite, run_multimodal_compare),  # issue 22
                         (is_crosslingual_suite, run_crosslingual_compare)):  # issue 24
        if not matches(args.suite):
            continue
        if args.budget is not None or args.set:
            raise ConfigError(f"{args.suite}: --budget and --set are for pre-training suites; "
                              f"change this suite with --suite-set KEY=VALUE")
        result = run(args.suite, args.out, args.quick, args.suite_set or [],
                     overwrite=args.overwrite)
        print(json.dumps(result))
        return 0
    result = run_compare(args.suite, args.out, args.budget, args.quick, args.set or [],
                         suite_overrides=args.suite_set or [], overwrite=args.overwrite)
    print(json.dumps(result))
    return 0


def add_commands(subparsers) -> None:
    compare = subparsers.add_parser(
        "compare", help="pre-train a suite of presets at equal FLOPs, fine-tune, Tables 1-2",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("suite", metavar="SUITE", help="packaged suite name (suites/objectives, "
                         "suites/objectives_zh, suites/seq2seq, suites/feature_based, "
                         "suites/compression) or a "
                         "suite YAML path")
    compare.add_argument("--out", required=True, help="output folder (units, tables)")
    compare.add_argument("--overwrite", action="store_true",
                         help="start afresh: replace the comparison already in --out instead "
                              "of continuing it (another kind of output is always refused)")
    compare.add_argument("--budget", type=float, help="training FLOPs per pre-training run "
                         "(default: the suite's budget_flops)")
    compare.add_argument("--quick", action="store_true",
                         help="the suite's quick section: tiny size and budget, few tasks, one seed")
    compare.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="extra override for every preset, e.g. data.dataset=ptb (repeatable)")
    compare.add_argument("--suite-set", action="append", metavar="KEY=VALUE",
                         help="override a key of the suite file, e.g. finetune.seeds=[1,2] or "
                              "tasks=[glue/rte] (repeatable)")
    compare.set_defaults(run=_compare)
