"""C&W / SENNA word embeddings: a window scorer trained with a pairwise ranking loss.

Collobert & Weston 2008 ("A Unified Architecture for NLP"); Collobert et al. 2011
("Natural Language Processing (Almost) from Scratch", §4.5). A window of ``2·window + 1``
words is scored by ``f(x) = w2 · hardtanh(W1 · [e(x_1); …; e(x_n)] + b1) + b2``. The loss
(review eq. 25) ranks every real window above the same window with its centre word
replaced by a random vocabulary word w:

    L = Σ_x Σ_w max(0, 1 − f(x) + f(x^(w)))

Corrupt words come from one of two distributions:

* ``uniform`` over the vocabulary — the papers' choice. In a few minutes of training it
  learns word *frequency*, not meaning: a uniform draw is almost always a rare word, so
  "the centre word is rare" separates real from corrupt windows. On WikiText-2, 420 s
  (13.8 epochs) with SGD gave WordSim-353 Spearman 0.016
  (``bench/results/cw_wikitext2_uniform_sgd.json``).
* ``unigram`` (the default): count^0.75, word2vec's negative-sampling distribution
  (Mikolov et al. 2013b), so corrupt words are as frequent as real ones and only the
  context can tell them apart.

Windows are padded with a ``PADDING`` row at sentence edges. The optimiser is ``adagrad``
by default (per-row adaptive rates for the sparse embedding updates, as Polyglot trained
its C&W-style embeddings; Al-Rfou et al. 2013) or the papers' plain ``sgd``; both on the
batch *mean* loss over mini-batches in PyTorch, and the embeddings ``e`` are the word
vectors. Default rates: adagrad 0.1 (on WikiText-2, 150 s: WS-353 0.14; 0.05 reached
0.09 and 0.3 diverged), sgd 1.0 at batch 256, ~0.004 per window, the order of SENNA's
per-example rates. ``max_seconds`` stops training at a wall-clock budget (checked after
every batch).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.wordvec.runs import prepare, write_run


@dataclass
class CwConfig:
    vector_size: int = 50
    window: int = 2  # words each side: SENNA's window of 5 is window=2
    hidden_size: int = 100
    min_count: int = 5
    max_vocab: int | None = None
    epochs: int = 1
    batch_size: int = 256
    learning_rate: float | None = None
    """On the batch-mean loss; None: 0.1 for adagrad, 1.0 for sgd (see the module docstring)."""
    corruptions: int = 1  # corrupted windows per real window
    seed: int = 1
    max_seconds: float | None = None  # stop after this much training time (None: all epochs)
    corruption: str = "unigram"
    """Where corrupt centre words come from: ``unigram`` (count^0.75, word2vec's noise
    distribution) or ``uniform`` over the vocabulary (the papers)."""
    optimizer: str = "adagrad"
    """``adagrad`` (Polyglot, Al-Rfou et al. 2013) or ``sgd`` (the papers)."""

    def validate(self) -> None:
        if self.corruption not in ("uniform", "unigram"):
            raise ConfigError(f"cw: corruption must be 'uniform' or 'unigram', "
                              f"got {self.corruption!r}")
        if self.optimizer not in ("sgd", "adagrad"):
            raise ConfigError(f"cw: optimizer must be 'sgd' or 'adagrad', got {self.optimizer!r}")
        for key in ("vector_size", "window", "hidden_size", "epochs", "batch_size", "corruptions"):
            if getattr(self, key) < 1:
                raise ConfigError(f"cw: {key} must be >= 1, got {getattr(self, key)}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError(f"cw: learning_rate must be > 0, got {self.learning_rate}")

    @property
    def rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 0.1 if self.optimizer == "adagrad" else 1.0


def window_ids(ids: np.ndarray, offsets: np.ndarray, window: int, pad_id: int) -> np.ndarray:
    """Every position's window of ids, padded at sentence edges: (N, 2·window + 1) int64."""
    n = len(ids)
    positions = np.arange(n)
    sentence = np.searchsorted(offsets, positions, side="right") - 1  # (N,) sentence of each token
    start, end = offsets[sentence], offsets[sentence + 1]
    columns = []
    for shift in range(-window, window + 1):
        source = positions + shift
        inside = (source >= start) & (source < end)
        columns.append(np.where(inside, ids[np.clip(source, 0, max(n - 1, 0))], pad_id))
    return np.stack(columns, axis=1).astype(np.int64)


def build_scorer(vocab_size: int, config: CwConfig):
    """Embedding (V+1 rows, the last one PADDING) and the two-layer window scorer."""
    width = 2 * config.window + 1
    # sparse gradients: a batch touches ~1.5k of the V rows, so SGD updates only those
    embedding = nn.Embedding(vocab_size + 1, config.vector_size, sparse=True)
    nn.init.uniform_(embedding.weight, -0.5 / config.vector_size, 0.5 / config.vector_size)
    scorer = nn.Sequential(nn.Flatten(), nn.Linear(width * config.vector_size, config.hidden_size),
                           nn.Hardtanh(), nn.Linear(config.hidden_size, 1))
    return embedding, scorer, torch


def corruption_sampler(counts: np.ndarray, corruption: str):
    """draw(rows, per_row, generator) -> (rows, per_row) corrupt word ids, drawn uniformly
    or ∝ count^0.75."""
    vocab_size = len(counts)
    if corruption == "uniform":
        return lambda rows, per_row, generator: torch.randint(
            0, vocab_size, (rows, per_row), generator=generator)
    weights = torch.from_numpy(np.asarray(counts, dtype=np.float64) ** 0.75)  # (V,)
    return lambda rows, per_row, generator: torch.multinomial(
        weights, rows * per_row, True, generator=generator).view(rows, per_row)


def ranking_loss(embedding, scorer, windows, corrupt_words, centre: int):
    """Mean of max(0, 1 − f(x) + f(x^(w))) over a batch. windows (B, W), corrupt (B, C)."""
    real = scorer(embedding(windows)).squeeze(-1)  # (B,)
    batch, count = corrupt_words.shape
    corrupted = windows.unsqueeze(1).expand(batch, count, windows.shape[1]).clone()  # (B, C, W)
    corrupted[:, :, centre] = corrupt_words
    fake = scorer(embedding(corrupted.reshape(batch * count, -1))).view(batch, count)  # (B, C)
    return torch.clamp(1.0 - real.unsqueeze(1) + fake, min=0.0).mean()


def _run_epochs(embedding, scorer, optimizer, windows, draw_corrupt, generator,
                config: CwConfig, start: float, progress) -> tuple[list[float], int, bool]:
    """Shuffled mini-batches of windows for ``config.epochs`` or until ``max_seconds``;
    returns (batch losses, windows trained, whether the time budget stopped it)."""
    losses, seen = [], 0
    for _epoch in range(config.epochs):
        order = torch.randperm(len(windows), generator=generator)
        for first in range(0, len(order), config.batch_size):
            if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
                return losses, seen, True
            batch = windows[order[first:first + config.batch_size]]  # (B, W)
            corrupt = draw_corrupt(len(batch), config.corruptions, generator)  # (B, C)
            loss = ranking_loss(embedding, scorer, batch, corrupt, config.window)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            seen += len(batch)
            if progress is not None:
                progress(len(batch))
    return losses, seen, False


def train_cw(corpus, vocab, config: CwConfig, progress: Callable[[int], None] | None = None):
    """Train on an encoded corpus; returns (vectors (V, D) float32, stats dict)."""
    config.validate()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    vocab_size = len(vocab)
    embedding, scorer, _ = build_scorer(vocab_size, config)
    windows = torch.from_numpy(window_ids(corpus.ids, corpus.offsets, config.window, vocab_size))
    parameters = list(embedding.parameters()) + list(scorer.parameters())
    optimizer_class = torch.optim.SGD if config.optimizer == "sgd" else torch.optim.Adagrad
    optimizer = optimizer_class(parameters, lr=config.rate)
    draw_corrupt = corruption_sampler(vocab.counts, config.corruption)
    start = time.perf_counter()
    with warnings.catch_warnings():  # Adagrad on sparse gradients warns about torch's checks
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        losses, seen, out_of_time = _run_epochs(embedding, scorer, optimizer, windows, draw_corrupt,
                                                generator, config, start, progress)
    seconds = time.perf_counter() - start
    vectors = embedding.weight.detach()[:vocab_size].numpy().astype(np.float32)
    final_loss = float(np.mean(losses[-50:])) if losses else None  # None: no batch trained
    return vectors, {"train_seconds": seconds, "final_loss": final_loss,
                     "windows_trained": seen, "epochs_completed": seen / max(len(windows), 1),
                     "stopped_by_time_budget": out_of_time,
                     "words_per_second": seen / max(seconds, 1e-9)}


def train_cw_run(data, out: str | Path, config: CwConfig, formats=(), progress_factory=None) -> dict:
    """``lmlab embed train --method cw``: train and write the run folder."""
    config.validate()
    paths, vocab, corpus = prepare(data if isinstance(data, list) else [data],
                                   config.min_count, config.max_vocab)
    progress = progress_factory(len(corpus.ids) * config.epochs) if progress_factory else None
    vectors, stats = train_cw(corpus, vocab, config, progress)
    info = {"method": "cw", "config": asdict(config), "corpus": [str(p) for p in paths],
            "corpus_words": int(corpus.raw_words.sum()), "vocab_size": len(vocab), **stats}
    write_run(out, vocab, vectors, info, formats)
    return info
