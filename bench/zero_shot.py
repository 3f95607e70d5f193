"""Zero-shot cross-lingual transfer of pre-trained runs (issue 24): fine-tune on an English
task, select on its dev split, score on the Chinese one (``lmlab.recipes.zero_shot``).
Prints one JSON object per run.

    python bench/zero_shot.py runs/mbert-tiny runs/xlmr-tiny --out runs/zero-shot \
        --source glue/sst2 --target clue/chnsenticorp --max-train-examples 4000 --seeds 0 1
    python bench/zero_shot.py runs/mbert-tiny --source glue/rte --target clue/xnli_2way ...
    python bench/zero_shot.py runs/unicoder-tiny --out runs/zs --translate-train --multi-language
(the last two: SST-2 translated word by word by the hsk gloss lexicon, not MT)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lmlab.finetune.config import FinetuneOptions
from lmlab.recipes.translate_train import translate_task
from lmlab.recipes.zero_shot import zero_shot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--source", default="glue/sst2")
    parser.add_argument("--target", default="clue/chnsenticorp")
    parser.add_argument("--target-split", default="dev")
    parser.add_argument("--supervised", action="store_true",
                        help="also fine-tune on the target task itself (the ceiling)")
    parser.add_argument("--max-train-examples", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--lr", type=float, default=None, help="default: the task family's")
    parser.add_argument("--pooling", choices=["cls", "mean", "last"], default="cls")
    parser.add_argument("--translate-train", action="store_true",
                        help="also fine-tune on the source translated by the hsk lexicon")
    parser.add_argument("--multi-language", action="store_true",
                        help="also Unicoder's multi-language fine-tuning (source + translation)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    options = FinetuneOptions(max_train_examples=args.max_train_examples, epochs=args.epochs,
                              max_seq_len=args.max_seq_len, seeds=args.seeds,
                              max_unk_rate=1.0, progress=False, lr=args.lr,
                              pooling=args.pooling)
    extra = {}
    if args.translate_train or args.multi_language:
        files = translate_task(args.source, Path(args.out) / "translations")
        extra = {"translated": (files["train"], files["dev"]),
                 "translate_train": args.translate_train, "multi_language": args.multi_language}
    for run in args.runs:
        out = Path(args.out) / Path(run).name
        result = zero_shot(run, args.source, args.target, options, out, args.target_split,
                           args.supervised, args.overwrite, " ".join(sys.argv), **extra)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
