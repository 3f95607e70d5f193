"""A training run as a folder: corpus → vocabulary → vectors → ``vectors.bin`` + ``run.json``.

The folder holds ``vectors.bin`` (word2vec binary; any word2vec tool reads it),
``run.json`` (method, settings, corpus, vocabulary size, speed) and, for the
multi-prototype method, ``senses.bin`` and ``senses.safetensors``; ``manifest.json``
(sha256 per file) is written last. :func:`lmlab.wordvec.io.load_vectors` accepts the folder
itself and checks the manifest first.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from lmlab.atomic import write_json
from lmlab.errors import CheckpointError
from lmlab.manifest import MANIFEST, write_manifest
from lmlab.wordvec.corpus import encode, iter_token_lists, resolve_corpus
from lmlab.wordvec.io import save_vectors
from lmlab.wordvec.vocab import Vocabulary, build_vocabulary, count_words
from lmlab.wordvec.word2vec import Word2VecConfig, train_word2vec

EXTRA_FORMATS = {"text": "vectors.txt", "safetensors": "vectors.safetensors"}


def prepare(data: str | list[str], min_count: int, max_vocab: int | None):
    """Resolve, count and encode the corpus. Returns (paths, vocabulary, encoded corpus)."""
    paths = [resolve_corpus(d) for d in ([data] if isinstance(data, str) else data)]
    source = ", ".join(str(p) for p in paths)
    vocab = build_vocabulary(count_words(iter_token_lists(paths)), min_count, max_vocab, source)
    return paths, vocab, encode(iter_token_lists(paths), vocab.index)


def train_run(data: str | list[str], out: str | Path, config: Word2VecConfig,
              formats: tuple[str, ...] = (),
              progress_factory: Callable[[int], Callable[[int], None]] | None = None) -> dict:
    """Train word2vec on ``data`` and write the run folder ``out``; returns run.json's dict."""
    config.validate()
    start = time.perf_counter()
    paths, vocab, corpus = prepare(data, config.min_count, config.max_vocab)
    prepared = time.perf_counter() - start
    total = int(corpus.raw_words.sum()) * config.epochs
    progress = progress_factory(total) if progress_factory else None
    model = train_word2vec(corpus, vocab, config, progress=progress)
    info = {"method": config.method, "loss": config.loss, "config": asdict(config),
            "corpus": [str(p) for p in paths], "corpus_words": int(corpus.raw_words.sum()),
            "vocab_size": len(vocab), "prepare_seconds": prepared,
            "train_seconds": model.stats.seconds, "words_per_second": model.stats.words_per_second}
    write_run(out, vocab, model.vectors, info, formats)
    return info


def write_run(out: str | Path, vocab: Vocabulary, vectors, info: dict,
              formats: tuple[str, ...] = (),
              write_more: Callable[[Path], None] | None = None) -> Path:
    """Write the run folder; ``write_more(out)`` adds a method's own files before the
    manifest, which is written last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_vectors(out / "vectors.bin", vocab.words, vectors, "binary")
    for fmt in formats:
        save_vectors(out / EXTRA_FORMATS[fmt], vocab.words, vectors, fmt)  # type: ignore[arg-type]
    if write_more is not None:
        write_more(out)
    # The marker: a run.json that says a manifest follows and a folder without one is a
    # training killed in between (refused on load, never read unverified).
    write_json(out / "run.json", {**info, "manifest": MANIFEST})
    write_manifest(out)
    return out


def read_run_info(run: str | Path) -> dict:
    path = Path(run) / "run.json"
    if not path.exists():
        raise CheckpointError(f"{run}: not a run folder (no run.json); train one with "
                              f"'lmlab embed train --out {run}' or pass a vectors file")
    return json.loads(path.read_text())
