"""Parallel sentence pairs for TLM (Lample & Conneau 2019, §3.3) and retrieval.

Two formats:

* one file, one pair a line, ``source<TAB>target`` (the news-commentary v13 en–zh sample
  of UER-py, ``uer_py/corpora/news-commentary-v13-en-zh_sampled.txt``: 1,000 pairs,
  English first);
* two aligned files, one sentence a line each (line i of one translates line i of the
  other).

A fixed, seeded held-out set (:func:`split_pairs`, 500 pairs by default: issue 24's
retrieval set) is set aside before anything trains; :func:`training_pairs` is the only
path training reads, and it never returns a held-out pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmlab.data.catalogue import data_dir
from lmlab.errors import DataError

DEFAULT_PARALLEL = "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"
"""The news-commentary v13 en–zh sample (1,000 pairs): the held-out set comes from it."""
HELD_OUT_PAIRS = 500
HELD_OUT_SEED = 24
"""Seed of the held-out choice: the same 500 pairs for every run and method."""


@dataclass(frozen=True)
class Pair:
    source: str
    target: str
    line_number: int  # 1-based, in the file(s) it came from


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise DataError(f"{path}: no such parallel file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start a new one
    if not lines:
        raise DataError(f"{path}: empty parallel file; expected one pair (or sentence) a line")
    return [line.rstrip("\r") for line in lines]


def read_tab_pairs(path: str | Path) -> list[Pair]:
    """Pairs of a ``source<TAB>target`` file; a line without exactly one tab, or with an
    empty side, is an error naming the file and line."""
    path = Path(path)
    pairs = []
    for number, line in enumerate(_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{path}:{number}: expected 'source<TAB>target' (one tab), found "
                            f"{len(parts) - 1} tabs")
        source, target = (part.strip() for part in parts)
        if not source or not target:
            raise DataError(f"{path}:{number}: a side of the pair is empty")
        pairs.append(Pair(source, target, number))
    return pairs


def read_aligned_files(source_path: str | Path, target_path: str | Path) -> list[Pair]:
    """Pairs of two aligned files (line i of one translates line i of the other)."""
    source_path, target_path = Path(source_path), Path(target_path)
    sources, targets = _lines(source_path), _lines(target_path)
    if len(sources) != len(targets):
        raise DataError(f"{target_path}: {len(targets)} lines, but {source_path} has "
                        f"{len(sources)}; aligned parallel files need equal line counts")
    pairs = []
    for number, (source, target) in enumerate(zip(sources, targets), 1):
        if not source.strip() or not target.strip():
            empty = source_path if not source.strip() else target_path
            raise DataError(f"{empty}:{number}: empty sentence in an aligned parallel file")
        pairs.append(Pair(source.strip(), target.strip(), number))
    return pairs


def locate(path: str) -> Path:
    """A relative path as given if it exists here, else under ``$LMLAB_DATA``."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    return data_dir() / given


def read_pairs(path: str) -> list[Pair]:
    """``a.txt`` (tab-separated pairs) or ``a.en,a.zh`` (two aligned files); relative
    paths are looked up here, then under ``$LMLAB_DATA``."""
    if "," in path:
        source, target = path.split(",", 1)
        return read_aligned_files(locate(source), locate(target))
    return read_tab_pairs(locate(path))


def split_pairs(pairs: list[Pair], held_out: int = HELD_OUT_PAIRS,
                seed: int = HELD_OUT_SEED) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, held-out pairs): ``held_out`` pairs chosen by a seeded permutation,
    each list in file order. With 1,000 pairs, 500 train and 500 are kept out."""
    if held_out >= len(pairs):
        raise DataError(f"{len(pairs)} pairs cannot keep {held_out} out and still train on some")
    order = np.random.default_rng(seed).permutation(len(pairs))
    kept_out = set(order[:held_out].tolist())
    train = [pair for i, pair in enumerate(pairs) if i not in kept_out]
    test = [pair for i, pair in enumerate(pairs) if i in kept_out]
    return train, test


def training_pairs(path: str, held_out: int = HELD_OUT_PAIRS) -> list[Pair]:
    """The pairs training may read: all but the held-out set."""
    return split_pairs(read_pairs(path), held_out)[0]


def held_out_pairs(path: str, held_out: int = HELD_OUT_PAIRS) -> list[Pair]:
    """The fixed held-out pairs (retrieval, TLM's held-out perplexity)."""
    return split_pairs(read_pairs(path), held_out)[1]
