"""Where the text of an n-gram build or evaluation comes from.

``data`` is a catalogue name (``ptb``, ``wikitext-2``; see :mod:`lmlab.data.catalogue`)
or a path to a UTF-8 text file with one sentence per line. Lines are streamed; blank lines
are skipped (lmplz skips them too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lmlab.data import catalogue
from lmlab.data.corpus import iter_sentences
from lmlab.data.lm_data import split_file
from lmlab.errors import DataError
from lmlab.ngram.vocab import tokenize


def resolve_data(data: str | Path, split: str = "train") -> Path:
    """A catalogue name (with ``split``) or an existing file path -> the text file."""
    path = Path(data)
    if path.exists() or any(sep in str(data) for sep in ("/", "\\")) or path.suffix:
        if not path.exists():
            raise DataError(f"{path}: no such file (expected a text file or a dataset name "
                            f"such as {', '.join(catalogue.names())})")
        return path
    return split_file(str(data), split)


def iter_token_sentences(path: str | Path) -> Iterator[list[str]]:
    """Tokens of each non-blank line; errors name ``file:line``."""
    for line in iter_sentences(path):
        tokens = tokenize(line.text, f"{line.path}:{line.line_number}")
        if tokens:
            yield tokens
