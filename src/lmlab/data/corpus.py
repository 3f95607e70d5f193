"""Streaming corpus reading (DESIGN §3, first stage).

A corpus is plain text, one sentence per line; a blank (or whitespace-only) line marks a
document boundary. ``.gz`` files are read transparently. Lines are streamed, never held
all at once, so a corpus larger than RAM can be read.

Encoding policy: UTF-8 by default. Undecodable bytes raise :class:`DataError` naming the
file and the 1-based line number (``errors="strict"``), or are replaced with U+FFFD
(``errors="replace"``) when the user asks for it.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from lmlab.errors import DataError

EncodingErrors = Literal["strict", "replace"]

# A NUL byte never occurs in text; finding one early means the user passed a binary file.
_BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class CorpusLine:
    """One line of a corpus with where it came from (for error messages)."""

    text: str  # without the trailing newline
    path: Path
    line_number: int  # 1-based

    @property
    def is_boundary(self) -> bool:
        """A blank line: the end of a document."""
        return not self.text.strip()


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _check_path(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a text file (one sentence per line)")


def _check_not_binary(path: Path) -> None:
    with _open_binary(path) as handle:
        try:
            head = handle.read(_BINARY_PROBE_BYTES)
        except (OSError, EOFError, zlib.error) as error:  # e.g. a corrupt .gz
            raise DataError(f"{path}: cannot be read ({error})") from error
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _alternating_nuls(head):
        raise DataError(f"{path}: is UTF-16 text; expected UTF-8 (convert it, e.g. "
                        f"iconv -f UTF-16 -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix})")
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file (NUL byte in the first "
                        f"{_BINARY_PROBE_BYTES} bytes); expected UTF-8 text")


def _alternating_nuls(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with every other byte NUL."""
    even, odd = head[0::2], head[1::2]
    return len(head) >= 8 and (even.count(0) == len(even) or odd.count(0) == len(odd))


def decode_text(data: bytes, path: str | Path) -> str:
    """A whole small file's bytes as UTF-8 text (a byte-order mark dropped); bytes that are
    not UTF-8 raise :class:`DataError` naming the line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataError(f"{path}:{line}: bytes {data[error.start:error.end]!r} at column "
                        f"{column} are not valid UTF-8; convert the file to UTF-8") from None


def iter_lines(path: str | Path, *, encoding: str = "utf-8",
               errors: EncodingErrors = "strict") -> Iterator[CorpusLine]:
    """Yield every line of ``path`` (blank ones included) with its line number."""
    path = Path(path)
    _check_path(path)
    _check_not_binary(path)
    with _open_binary(path) as handle:
        for line_number, raw in enumerate(_read_lines(handle, path), start=1):
            try:
                text = raw.decode(encoding, errors=errors)
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}:{line_number}: bytes {raw[error.start:error.end]!r} at column "
                    f"{error.start + 1} are not valid {encoding}; convert the file (e.g. iconv "
                    f"-f latin1 -t UTF-8), or for a training corpus replace such bytes with "
                    f"U+FFFD: --set data.encoding_errors=replace") from None
            yield CorpusLine(text.rstrip("\r\n"), path, line_number)


def _read_lines(handle, path: Path) -> Iterator[bytes]:
    """The raw lines of ``handle``; a damaged .gz (bad CRC, cut short, bad data) raises
    :class:`DataError` naming the line where it stops."""
    line_number = 0
    try:
        for line_number, raw in enumerate(handle, start=1):
            yield raw
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}:{line_number + 1}: cannot be read further ({error}); is the "
                        f"compressed file damaged or cut short?") from None


def iter_sentences(path: str | Path, **kwargs) -> Iterator[CorpusLine]:
    """Yield the non-blank lines of ``path``; raise if there is none."""
    seen_any = False
    for line in iter_lines(path, **kwargs):
        if line.is_boundary:
            continue
        seen_any = True
        yield line
    if not seen_any:
        raise DataError(f"{path}: the corpus is empty (no non-blank line)")


def iter_documents(path: str | Path, **kwargs) -> Iterator[list[CorpusLine]]:
    """Yield documents: runs of non-blank lines separated by blank lines."""
    document: list[CorpusLine] = []
    seen_any = False
    for line in iter_lines(path, **kwargs):
        if line.is_boundary:
            if document:
                yield document
                document = []
            continue
        seen_any = True
        document.append(line)
    if document:
        yield document
    if not seen_any:
        raise DataError(f"{path}: the corpus is empty (no non-blank line)")
