"""Where cross-lingual objectives read parallel pairs: a main file (whose seeded held-out
pairs are never trained on) plus extra sources used whole, such as the
``hsk-sentences-audio`` package (:mod:`lmlab.crosslingual.hsk`)."""

from __future__ import annotations

from lmlab.crosslingual.hsk import HSK_PAIRS, hsk_pairs
from lmlab.crosslingual.parallel import Pair, read_pairs, split_pairs


def read_source(name: str) -> list[Pair]:
    """The pairs of ``name``: ``hsk-sentences-audio``, or a parallel file (``pairs.txt`` or
    ``a.en,a.zh``) as :func:`lmlab.crosslingual.parallel.read_pairs` reads it."""
    return hsk_pairs() if name == HSK_PAIRS else read_pairs(name)


def pair_sources(parallel: str, held_out: int, extra: list[str]) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, held-out pairs): ``parallel`` split by :func:`split_pairs` (its
    fixed seeded held-out set), the ``extra`` sources appended whole to the training part."""
    train, test = split_pairs(read_pairs(parallel), held_out)
    for name in extra:
        train = train + read_source(name)
    return train, test
