"""Benchmark lmlab's n-gram LMs; prints ONE JSON object.

* build time (count + estimate + ARPA write: ``build_seconds``, the issue's target) and peak
  resident memory, orders 3 and 5, on PTB train and WikiText-2 train, and the 5-grams again
  with a small counting budget (``--memory``: sorted runs spill to disk); each build runs in
  a fresh process so its peak memory is its own;
* query speed (words/s, </s> included) of the PTB 5-gram on PTB test, already tokenized;
* NLTK ``KneserNeyInterpolated`` (order 3) against lmlab (order 3, mkn) on the same slice of
  PTB train: fit + score the same test words (NLTK is slow, hence a slice).

Usage: LMLAB_DATA=../shared/data python bench/ngram.py [--nltk-train 1000 --nltk-test 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def one_build(dataset: str, order: int, memory_mb: float | None = None) -> dict:
    from lmlab.ngram.arpa import write_arpa
    from lmlab.ngram.build import build_model
    from lmlab.ngram.counting import peak_memory_mb
    from lmlab.ngram.source import iter_token_sentences, resolve_data
    import tempfile
    base = peak_memory_mb()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        model = build_model(iter_token_sentences(resolve_data(dataset, "train")), order,
                            memory_mb=memory_mb, spill_dir=folder)
        built = time.perf_counter()
        write_arpa(model, os.path.join(folder, "m.arpa"))
        written = time.perf_counter()
    return {"dataset": dataset, "order": order, "memory_budget_mb": memory_mb,
            "tokens": model.info["tokens"], "ngrams": model.sizes(),
            "build_seconds": round(written - started, 3),
            "count_seconds": round(model.info["count_seconds"], 3),
            "estimate_seconds": round(model.info["estimate_seconds"], 3),
            "write_arpa_seconds": round(written - built, 3),
            "peak_rss_mb": round(peak_memory_mb(), 1),
            "peak_rss_after_counting_mb": round(model.info["count_peak_memory_mb"], 1),
            "rss_before_build_mb": round(base, 1)}


def query_speed() -> dict:
    from lmlab.ngram.build import build_model
    from lmlab.ngram.score import perplexity, score_batch
    from lmlab.ngram.source import iter_token_sentences, resolve_data
    model = build_model(iter_token_sentences(resolve_data("ptb", "train")), 5)
    sentences = list(iter_token_sentences(resolve_data("ptb", "test")))
    words = sum(len(s) + 1 for s in sentences)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        score_batch(model, sentences)
        best = min(best, time.perf_counter() - started)
    big = sentences * 12  # ~1M words in one batch
    started = time.perf_counter()
    score_batch(model, big)
    big_seconds = time.perf_counter() - started
    return {"model": "ptb 5-gram mkn", "text": "ptb test", "words": words,
            "seconds": round(best, 4), "words_per_second": round(words / best),
            "words_per_second_1M_batch": round(12 * words / big_seconds),
            "test_perplexity": round(perplexity(model, sentences)["perplexity"], 3)}


def nltk_comparison(train_sentences: int, test_sentences: int) -> dict:
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline
    from nltk.util import ngrams, pad_sequence
    from lmlab.ngram.build import build_model
    from lmlab.ngram.score import score_batch
    from lmlab.ngram.source import iter_token_sentences, resolve_data
    train = list(iter_token_sentences(resolve_data("ptb", "train")))[:train_sentences]
    test = list(iter_token_sentences(resolve_data("ptb", "valid")))[:test_sentences]
    words = sum(len(s) + 1 for s in test)

    started = time.perf_counter()
    model = build_model(iter(train), 3)
    score_batch(model, test)
    lmlab_seconds = time.perf_counter() - started

    started = time.perf_counter()
    reference = KneserNeyInterpolated(3)
    grams, vocab = padded_everygram_pipeline(3, train)
    reference.fit(grams, vocab)
    fitted = time.perf_counter()
    for sentence in test:
        padded = list(pad_sequence(sentence, 3, pad_left=True, pad_right=True,
                                   left_pad_symbol="<s>", right_pad_symbol="</s>"))
        for gram in ngrams(padded, 3):
            if gram[-1] != "<s>":
                reference.logscore(gram[-1], gram[:-1])
    nltk_seconds = time.perf_counter() - started
    return {"slice": f"ptb train first {train_sentences} sentences, order 3; score ptb valid "
                     f"first {test_sentences} sentences ({words} words)",
            "lmlab_build_and_score_seconds": round(lmlab_seconds, 4),
            "nltk_fit_seconds": round(fitted - started, 3),
            "nltk_build_and_score_seconds": round(nltk_seconds, 3),
            "speedup": round(nltk_seconds / lmlab_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs="+", metavar="DATASET ORDER [MEMORY]", help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=float, default=64.0,
                        help="counting budget (MiB) for the budgeted 5-gram builds")
    parser.add_argument("--nltk-train", type=int, default=1000)
    parser.add_argument("--nltk-test", type=int, default=50)
    args = parser.parse_args()
    if args.one:
        memory = float(args.one[2]) if len(args.one) > 2 else None
        print(json.dumps(one_build(args.one[0], int(args.one[1]), memory)))
        return
    builds = []
    runs = [(d, o, []) for d in ("ptb", "wikitext-2") for o in (3, 5)]
    runs += [(d, 5, [str(args.memory)]) for d in ("ptb", "wikitext-2")]
    for dataset, order, memory in runs:
        output = subprocess.run([sys.executable, __file__, "--one", dataset, str(order), *memory],
                                check=True, capture_output=True, text=True).stdout
        builds.append(json.loads(output))
    import platform
    result = {"bench": "ngram", "machine": f"{platform.machine()} {os.cpu_count()} cpu (shared)",
              "note": "timings from a shared 2-core machine with other jobs running; "
                      f"load average at start {os.getloadavg()[0]:.1f}",
              "builds": builds, "query": query_speed(),
              "nltk": nltk_comparison(args.nltk_train, args.nltk_test),
              "targets": {"ptb_5gram_build_seconds": 5.0, "speedup_vs_nltk": 100,
                          "query_words_per_second": 1_000_000}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
