"""word2vec training: CBOW and skip-gram with hierarchical softmax or negative sampling.

Mikolov et al. 2013a ("Efficient Estimation of Word Representations in Vector Space") and
2013b ("Distributed Representations of Words and Phrases"); review §3.1.4 and Figure 1.
Hyper-parameters and their defaults follow gensim's ``Word2Vec`` (vector_size 100, window 5,
negative 5, min_count 5, sample 1e-3, alpha 0.025 → min_alpha 1e-4 linearly over all
epochs). The work is split into jobs of ~10000 tokens; ``workers`` Python threads run the
compiled job kernel (kernels.py, GIL released) on shared arrays, as gensim and word2vec.c do.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Literal

import numpy as np

from lmlab.errors import ConfigError
from lmlab.wordvec import reference
from lmlab.wordvec.corpus import EncodedCorpus, split_jobs
from lmlab.wordvec.huffman import build_huffman
from lmlab.wordvec.vocab import Vocabulary, keep_thresholds, negative_guide, negative_table

try:  # the compiled fast path; without numba only backend="numpy" trains
    from lmlab.wordvec import kernels
except ImportError:  # pragma: no cover - numba is a dependency
    kernels = None


@dataclass
class Word2VecConfig:
    """Training settings (gensim's names where they exist)."""

    method: Literal["skipgram", "cbow"] = "skipgram"
    loss: Literal["negative", "hs"] = "negative"
    vector_size: int = 100
    window: int = 5
    negative: int = 5  # negatives per positive; used when loss == "negative"
    ns_exponent: float = 0.75
    cbow_mean: bool = True  # CBOW input: mean (True) or sum (False) of the context
    min_count: int = 5
    max_vocab: int | None = None
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    workers: int = 2
    seed: int = 1
    batch_words: int = 10000
    backend: Literal["numba", "numpy"] = "numba"

    def validate(self) -> None:
        choices = {"method": ("skipgram", "cbow"), "loss": ("negative", "hs"),
                   "backend": ("numba", "numpy")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key}={getattr(self, key)!r} is not one of {allowed}")
        for key in ("vector_size", "window", "epochs", "workers", "batch_words"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.loss == "negative" and self.negative < 1:
            raise ConfigError(f"negative must be >= 1 with loss='negative', got {self.negative}")
        if self.alpha <= 0 or self.min_alpha < 0:
            raise ConfigError("alpha must be > 0 and min_alpha >= 0")


@dataclass
class TrainStats:
    seconds: float = 0.0
    raw_words: int = 0  # corpus tokens × epochs (OOV included), the words/s numerator
    kept_words: int = 0  # after OOV removal and subsampling
    words_per_second: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class Word2VecModel:
    vocab: Vocabulary
    vectors: np.ndarray  # (V, D) float32 — syn0, the word vectors
    output: np.ndarray  # (V, D) syn1neg or (V-1, D) syn1 — the output-side weights
    config: Word2VecConfig
    stats: TrainStats


def _load_kernel(backend: str) -> Callable:
    if backend == "numpy":
        return reference.train_job
    if kernels is None:
        raise ConfigError("the numba backend needs numba (pip install numba); or pass "
                          "backend='numpy' (CLI: --backend numpy), ~100x slower")
    return kernels.train_job


def _job_seed(seed: int, epoch: int, job: int) -> int:
    """A distinct 64-bit LCG start per (seed, epoch, job), independent of thread timing."""
    mixed = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + job * 0x94D049BB133111EB + 1)
    return mixed & ((1 << 64) - 1)


def initial_vectors(vocab_size: int, vector_size: int, seed: int) -> np.ndarray:
    """Uniform in [-1/D, 1/D), as gensim 4 initialises syn0 (``prep_vectors``). (V, D) float32.

    word2vec.c (and gensim 3) draw from half that range, [-0.5/D, 0.5/D); gensim 4 is the
    parity reference here. On the bench corpus the range changed SG-HS WordSim-353 by
    < 0.002 (seed 2), i.e. not at all beyond thread noise.
    """
    rng = np.random.default_rng(seed)
    vectors = rng.random((vocab_size, vector_size), dtype=np.float32)  # [0, 1)
    return (vectors * np.float32(2.0) - np.float32(1.0)) / np.float32(vector_size)


def train_word2vec(corpus: EncodedCorpus, vocab: Vocabulary, config: Word2VecConfig,
                   progress: Callable[[int], None] | None = None) -> Word2VecModel:
    """Train on an encoded corpus; ``progress(raw_words)`` is called after every job."""
    config.validate()
    kernel = _load_kernel(config.backend)
    vocab_size, size = len(vocab), config.vector_size
    hs = config.loss == "hs"
    negative = config.negative if config.loss == "negative" else 0

    syn0 = initial_vectors(vocab_size, size, config.seed)
    syn1 = np.zeros((max(vocab_size - 1, 1) if hs else 0, size), dtype=np.float32)
    syn1neg = np.zeros((vocab_size if negative else 0, size), dtype=np.float32)
    tree = build_huffman(vocab.counts) if hs else build_huffman(vocab.counts[:1])
    cum_table = negative_table(vocab.counts, config.ns_exponent) if negative else np.ones(1, np.int64)
    guide = negative_guide(cum_table)
    keep_int = keep_thresholds(vocab.counts, config.sample)
    do_sample = config.sample > 0

    jobs = split_jobs(corpus, config.batch_words)  # (J, 2)
    job_raw = np.array([corpus.raw_words[a:b].sum() for a, b in jobs], dtype=np.int64)
    words_before = np.concatenate([[0], np.cumsum(job_raw)[:-1]])  # raw words before each job
    epoch_words = int(corpus.raw_words.sum())
    total_words = epoch_words * config.epochs

    schedule = [(epoch, j) for epoch in range(config.epochs) for j in range(len(jobs))]
    next_task = [0]
    kept = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                with lock:
                    if next_task[0] >= len(schedule) or errors:
                        return
                    epoch, j = schedule[next_task[0]]
                    next_task[0] += 1
                # linear decay by the share of all words trained before this job
                done = epoch * epoch_words + words_before[j]
                alpha = config.alpha - (config.alpha - config.min_alpha) * done / total_words
                kept_here = kernel(syn0, syn1, syn1neg, corpus.ids, corpus.offsets,
                                   int(jobs[j, 0]), int(jobs[j, 1]), keep_int, do_sample,
                                   cum_table, guide, tree.codes, tree.points, tree.lengths,
                                   config.method == "skipgram", config.cbow_mean, hs, negative,
                                   config.window, float(alpha), np.uint64(_job_seed(config.seed, epoch, j)))
                with lock:
                    kept[0] += int(kept_here)
                    if progress is not None:
                        progress(int(job_raw[j]))
        except BaseException as error:  # re-raised in the calling thread
            with lock:
                errors.append(error)

    start = time.perf_counter()
    if config.workers == 1:
        worker()
    else:
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(config.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    seconds = time.perf_counter() - start
    stats = TrainStats(seconds=seconds, raw_words=total_words, kept_words=kept[0],
                       words_per_second=total_words / max(seconds, 1e-9))
    return Word2VecModel(vocab, syn0, syn1 if hs else syn1neg, config, stats)


def config_dict(config: Word2VecConfig) -> dict:
    return asdict(config)
