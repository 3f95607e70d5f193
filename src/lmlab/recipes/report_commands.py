"""``lmlab report``: one self-contained HTML page of plots and tables. Thin: parse and call."""

from __future__ import annotations

import argparse

from lmlab.atomic import write_text
from lmlab.outputs import prepare_output_file
from lmlab.report.html import build_report

EXAMPLES = """examples:
  lmlab report runs/gpt-tiny --out gpt-tiny.html
  lmlab report runs/compare --out compare.html
  lmlab report bench/results --out results.html --overwrite

It reads run folders (metrics.jsonl), lmlab compare outputs (table1/2.json), lmlab demo's
demo.json and word2vec benchmark JSON found below the folder; the page opens offline.
"""


def _report(args) -> int:
    out = prepare_output_file(args.out, args.overwrite)
    page = build_report(args.path)
    write_text(out, page)
    print(f"report: {out} ({len(page) / 1e6:.1f} MB)")
    return 0


def add_commands(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="an HTML page of loss curves, comparison tables and plots",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("path", metavar="PATH", help="a run folder, or a folder of runs and results")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    report.set_defaults(run=_report)
