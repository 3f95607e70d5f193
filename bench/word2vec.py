"""Benchmark: lmlab word2vec vs gensim Word2Vec — speed, memory and quality, one JSON object.

Corpus: WikiText-2 train + PTB train + the article text of the Wikipedia excerpt in
``$LMLAB_DATA/gensim_test_data`` (gensim's ``filter_wiki`` + ``tokenize``, one paragraph per
line), ≈3.4M tokens, written once to ``$LMLAB_CACHE/word2vec-bench.txt``.

For each configuration (skip-gram + negative sampling, CBOW + negative sampling, skip-gram
+ hierarchical softmax) and each seed, gensim and lmlab each train in a fresh child process
with identical settings (vector_size 100, window 5, negative 5 or hs, min_count 5,
sample 1e-3, 5 epochs, alpha 0.025 decayed linearly in words trained, 2 workers). gensim gets
its corpus as an in-memory list of token lists (its fastest iterable mode) and ``total_words``
(so it decays by words, like word2vec.c; ``total_examples`` would decay by sentences); lmlab
gets its encoded id array. Reported per run:

* ``words_per_second``: corpus tokens × epochs / seconds inside training (vocabulary
  building excluded for both);
* ``peak_rss_mb`` and ``rss_growth_mb`` (peak minus the RSS after imports, so the
  interpreter and libraries are not counted);
* WordSim-353 and SimLex-999 Spearman and Google analogy accuracy (30k words), all computed
  by ``lmlab.wordvec.evaluate`` (tests show it equals gensim's evaluators).

Usage::

    LMLAB_DATA=../shared/data python bench/word2vec.py --seeds 3 \
        --runs-log bench/results/word2vec_quiet-runs.jsonl > bench/results/word2vec_quiet.json
    python bench/word2vec.py --quick   # 1 epoch, 1 seed, sg-ns only: a smoke run
    python bench/word2vec.py --corpus ptb --seeds 3   # PTB train: short sentences, 10k words
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "skipgram-ns": {"method": "skipgram", "loss": "negative"},
    "cbow-ns": {"method": "cbow", "loss": "negative"},
    "skipgram-hs": {"method": "skipgram", "loss": "hs"},
}
WIKI = "gensim_test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def build_corpus() -> Path:
    """WikiText-2 train + PTB train + Wikipedia excerpt text, one sentence per line."""
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki, tokenize

    from lmlab.data.catalogue import cache_dir, data_dir, resolve
    out = cache_dir() / "word2vec-bench.txt"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for name in ("wikitext-2", "ptb"):
            for line in open(resolve(name, "train"), encoding="utf-8"):
                if line.strip():
                    handle.write(line.strip() + "\n")
        for _title, text, _page in extract_pages(bz2.open(data_dir() / WIKI)):
            for paragraph in filter_wiki(text).split("\n"):
                tokens = tokenize(paragraph)  # lower-case, 2–15 characters
                if tokens:
                    handle.write(" ".join(tokens) + "\n")
    os.replace(temporary, out)
    return out


def _corpus_path(name: str) -> Path:
    from lmlab.data.catalogue import resolve
    return Path(name) if Path(name).is_file() else Path(resolve(name, "train"))


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(library: str, config_name: str, seed: int, epochs: int, corpus: str, workers: int) -> dict:
    """One training run in this (fresh) process; returns its measurements."""
    import numpy as np  # noqa: F401  (imports before the RSS baseline)

    from lmlab.wordvec.evaluate import evaluate_all
    settings = CONFIGS[config_name]
    if library == "gensim":
        from gensim.models import Word2Vec
    else:
        from lmlab.wordvec.corpus import encode
        from lmlab.wordvec.runs import prepare
        from lmlab.wordvec.vocab import build_vocabulary, count_words
        from lmlab.wordvec.word2vec import Word2VecConfig, train_word2vec
        # load numba's on-disk cache (or compile) outside the timed region, as gensim's
        # Cython is compiled before it runs
        toy = [["a", "b", "c", "a", "b"]] * 3
        toy_vocab = build_vocabulary(count_words(toy), 1)
        train_word2vec(encode(iter(toy), toy_vocab.index), toy_vocab,
                       Word2VecConfig(**settings, vector_size=100, min_count=1, epochs=1))
    baseline = _rss_mb()
    start = time.perf_counter()
    if library == "gensim":
        sentences = [line.split() for line in open(corpus, encoding="utf-8")]
        corpus_words = sum(len(s) for s in sentences)
        hs = settings["loss"] == "hs"
        model = Word2Vec(vector_size=100, window=5, min_count=5, sample=1e-3, alpha=0.025,
                         min_alpha=0.0001, sg=int(settings["method"] == "skipgram"),
                         hs=int(hs), negative=0 if hs else 5, cbow_mean=1, epochs=epochs,
                         workers=workers, seed=seed)
        model.build_vocab(sentences)
        prepared = time.perf_counter()
        # total_words: decay the rate by words trained, as word2vec.c and lmlab do; with
        # total_examples gensim decays by sentences, which on this corpus (long WikiText-2
        # paragraphs first, short PTB sentences after) is another schedule: skip-gram HS
        # WS-353 0.454 by sentences vs 0.475 by words (seed 1), lmlab 0.476
        model.train(sentences, total_words=model.corpus_total_words, epochs=epochs)
        trained = time.perf_counter()
        words, vectors = list(model.wv.index_to_key), model.wv.vectors
    else:
        config = Word2VecConfig(**settings, vector_size=100, window=5, negative=5, min_count=5,
                                sample=1e-3, epochs=epochs, workers=workers, seed=seed)
        _, vocab, encoded = prepare(corpus, 5, None)
        corpus_words = int(encoded.raw_words.sum())
        prepared = time.perf_counter()
        model = train_word2vec(encoded, vocab, config)
        trained = time.perf_counter()
        words, vectors = vocab.words, model.vectors
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = evaluate_all(words, vectors)
    return {"library": library, "config": config_name, "seed": seed,
            "words_per_second": corpus_words * epochs / (trained - prepared),
            "train_seconds": trained - prepared, "prepare_seconds": prepared - start,
            "vocab_size": len(words), "corpus_words": corpus_words,
            "peak_rss_mb": peak, "rss_growth_mb": peak - baseline,
            "load_average_after_training": os.getloadavg(),
            "wordsim353": scores["wordsim353"]["spearman"],
            "simlex999": scores["simlex999"]["spearman"],
            "analogy": scores["analogy"]["accuracy"],
            "oov": {"wordsim353": scores["wordsim353"]["oov"],
                    "simlex999": scores["simlex999"]["oov"],
                    "analogy": scores["analogy"]["oov"]}}


def _mean(runs: list[dict], key: str) -> float:
    return sum(r[key] for r in runs) / len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 seed, skipgram-ns")
    parser.add_argument("--child", nargs=3, metavar=("LIBRARY", "CONFIG", "SEED"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help="train on this catalogue name's train split (ptb: "
                        "short sentences) or text file instead of the 3.4M-token bench corpus")
    parser.add_argument("--runs-log", help="append each run to this JSON-lines file and skip runs "
                        "already in it (resume an interrupted benchmark)")
    parser.add_argument("--summarize-only", action="store_true",
                        help="train nothing; summarise the runs in --runs-log")
    args = parser.parse_args()
    if args.child:
        library, config_name, seed = args.child
        print(json.dumps(child(library, config_name, int(seed), args.epochs, args.corpus,
                               args.workers)))
        return
    if args.quick:
        args.seeds, args.epochs, args.configs = 1, 1, ["skipgram-ns"]
    corpus = _corpus_path(args.corpus) if args.corpus else build_corpus()
    log = Path(args.runs_log) if args.runs_log else None
    runs = [json.loads(line) for line in open(log)] if log and log.exists() else []
    done = {(r["library"], r["config"], r["seed"]) for r in runs}
    for seed in range(1, args.seeds + 1):  # seed-major: every config gets seed 1 first
        for config_name in args.configs:
            for library in ("gensim", "lmlab"):  # alternate so machine load hits both alike
                if args.summarize_only or (library, config_name, seed) in done:
                    continue
                command = [sys.executable, __file__, "--child", library, config_name, str(seed),
                           "--epochs", str(args.epochs), "--workers", str(args.workers),
                           "--corpus", str(corpus)]
                output = subprocess.run(command, check=True, capture_output=True, text=True)
                runs.append(json.loads(output.stdout.strip().splitlines()[-1]))
                r = runs[-1]
                if log:
                    with open(log, "a") as handle:
                        handle.write(json.dumps(r) + "\n")
                print(f"{library} {config_name} seed {seed}: {r['words_per_second']:,.0f} "
                      f"words/s, ws353 {r['wordsim353']:.3f} simlex {r['simlex999']:.3f} "
                      f"analogy {r['analogy']:.3f} rss+ {r['rss_growth_mb']:.0f} MB",
                      file=sys.stderr, flush=True)
    runs = [r for r in runs if r["config"] in args.configs and r["seed"] <= args.seeds]
    summary = {}
    for config_name in args.configs:
        entry = {}
        for library in ("gensim", "lmlab"):
            paired = ({r["seed"] for r in runs if r["config"] == config_name and r["library"] == "gensim"}
                      & {r["seed"] for r in runs if r["config"] == config_name and r["library"] == "lmlab"})
            mine = [r for r in runs if r["library"] == library and r["config"] == config_name
                    and r["seed"] in paired]  # only seeds both libraries finished
            if not mine:
                break
            entry[library] = {"seeds": len(mine)} | {key: _mean(mine, key) for key in (
                "words_per_second", "train_seconds", "peak_rss_mb", "rss_growth_mb",
                "wordsim353", "simlex999", "analogy")}
        if "gensim" not in entry or "lmlab" not in entry:
            continue
        g, m = entry["gensim"], entry["lmlab"]
        entry["speed_ratio"] = m["words_per_second"] / g["words_per_second"]
        entry["delta"] = {"wordsim353": m["wordsim353"] - g["wordsim353"],
                          "simlex999": m["simlex999"] - g["simlex999"],
                          "analogy_points": 100 * (m["analogy"] - g["analogy"])}
        entry["parity"] = (abs(entry["delta"]["wordsim353"]) <= 0.02
                           and abs(entry["delta"]["simlex999"]) <= 0.02
                           and abs(entry["delta"]["analogy_points"]) <= 2.0)
        summary[config_name] = entry
    import gensim
    import numba
    print(json.dumps({
        "benchmark": "word2vec", "corpus": str(corpus),
        "corpus_words": runs[0]["corpus_words"], "vocab_size": runs[0]["vocab_size"],
        "settings": {"vector_size": 100, "window": 5, "negative": 5, "min_count": 5,
                     "sample": 1e-3, "epochs": args.epochs, "alpha": 0.025,
                     "alpha_decay": "linear in words trained (gensim: total_words)",
                     "workers": args.workers, "seeds_requested": args.seeds},
        "load_average_at_end": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "gensim": gensim.__version__, "numba": numba.__version__,
                    "gensim_fast_version": __import__("gensim.models.word2vec_inner",
                                                      fromlist=["FAST_VERSION"]).FAST_VERSION},
        "summary": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
