"""Corpus → word ids, held once in memory as one flat array (the kernels' input).

``--data`` is a catalogue name (``ptb``, ``wikitext-2``: their ``train`` split) or a path to
a text file with one sentence per line, tokens separated by whitespace. Reading goes through
:func:`lmlab.data.corpus.iter_sentences` (encoding errors name file:line; an empty corpus is
an error). Words outside the vocabulary are dropped before windowing, as word2vec.c and
gensim do. Lines longer than ``max_sentence_length`` tokens are split into pieces of that
length (gensim's ``LineSentence`` does the same with its default 10000).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from lmlab.data import catalogue
from lmlab.data.corpus import iter_sentences
from lmlab.errors import DataError

MAX_SENTENCE_LENGTH = 10000


def resolve_corpus(data: str | Path) -> Path:
    """A path to an existing file, or the train split of a catalogue dataset."""
    path = Path(data)
    if path.exists():
        return path
    if any(sep in str(data) for sep in ("/", "\\")) or path.suffix:
        raise DataError(f"{data}: no such file")
    return catalogue.resolve(str(data), "train")


def iter_token_lists(paths: list[Path] | Path,
                     max_sentence_length: int = MAX_SENTENCE_LENGTH) -> Iterator[list[str]]:
    """Whitespace-split tokens of every non-blank line of every file."""
    if isinstance(paths, (str, Path)):
        paths = [Path(paths)]
    for path in paths:
        for line in iter_sentences(path):
            tokens = line.text.split()
            for start in range(0, len(tokens), max_sentence_length):
                yield tokens[start:start + max_sentence_length]


@dataclass
class EncodedCorpus:
    """All sentences as one id array; sentence s is ``ids[offsets[s]:offsets[s+1]]``."""

    ids: np.ndarray      # (N,) int32 — in-vocabulary tokens only
    offsets: np.ndarray  # (S+1,) int64
    raw_words: np.ndarray  # (S,) int64 — tokens per sentence before dropping OOV words

    @property
    def num_sentences(self) -> int:
        return len(self.offsets) - 1


def encode(sentences: Iterator[list[str]], index: dict[str, int]) -> EncodedCorpus:
    """Map tokens to ids, dropping out-of-vocabulary tokens."""
    chunks: list[np.ndarray] = []
    lengths: list[int] = []
    raw: list[int] = []
    lookup = index.get
    for tokens in sentences:
        ids = [i for i in map(lookup, tokens) if i is not None]
        chunks.append(np.array(ids, dtype=np.int32))
        lengths.append(len(ids))
        raw.append(len(tokens))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    return EncodedCorpus(ids, offsets, np.array(raw, dtype=np.int64))


def split_jobs(corpus: EncodedCorpus, batch_words: int = 10000) -> np.ndarray:
    """Consecutive sentence ranges of about ``batch_words`` raw tokens: (J, 2) int64.

    Jobs are the unit of work a thread takes (gensim's job size is 10000 words too);
    the learning rate is fixed within a job.
    """
    bounds = [0]
    running = 0
    for sentence, raw in enumerate(corpus.raw_words):
        running += int(raw)
        if running >= batch_words:
            bounds.append(sentence + 1)
            running = 0
    if bounds[-1] != corpus.num_sentences:
        bounds.append(corpus.num_sentences)
    bounds_array = np.array(bounds, dtype=np.int64)
    return np.stack([bounds_array[:-1], bounds_array[1:]], axis=1)
