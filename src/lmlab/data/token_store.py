"""Token store (DESIGN §3): a corpus tokenized once into a memory-mapped id array.

Layout of a store folder::

    ids.bin           uint16/uint32 token ids, every line followed by <eos>
    line_ends.bin     int64 offset one past each line's <eos>
    doc_ends.bin      int64 offset one past each document's last line
    meta.json         dtype, counts, source fingerprint, tokenizer fingerprint

It is built in chunks of lines (``encode_batch``) appended to the files, so memory stays
flat however large the corpus, even one of a single huge line (tokenized in pieces); it is written into a temporary folder renamed into place,
so an interrupted build never leaves a half store behind. A store is keyed by the source
file's identity and the tokenizer's JSON, and reused when both match.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from lmlab.data.corpus import CorpusLine
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import DataError

CHUNK_LINES = 4096
CHUNK_CHARS = 1_000_000
"""Characters tokenized at once, at most about (bounds memory for long lines)."""
PIECE_CHARS = 250_000
"""A line longer than this is tokenized in pieces (see :func:`line_pieces`)."""


class TokenStore:
    def __init__(self, folder: Path):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        dtype = np.dtype(self.meta["dtype"])
        self.ids = _memmap(folder / "ids.bin", dtype)  # (N,)
        self.line_ends = _memmap(folder / "line_ends.bin", np.int64)  # (lines,)
        self.doc_ends = _memmap(folder / "doc_ends.bin", np.int64)  # (docs,)

    def __len__(self) -> int:
        return int(self.meta["num_tokens"])

    @classmethod
    def build(cls, lines: Iterable[CorpusLine], tokenizer: TextTokenizer, folder: Path,
              source_name: str) -> "TokenStore":
        dtype = np.uint16 if tokenizer.vocab_size < 2 ** 16 else np.uint32
        folder.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
        try:
            counts = _write_chunks(lines, tokenizer, temporary, dtype)
            if counts["num_lines"] == 0:
                raise DataError(f"{source_name}: the corpus is empty (no non-blank line)")
            meta = {"dtype": np.dtype(dtype).name, "source": source_name,
                    "vocab_size": tokenizer.vocab_size, **counts}
            (temporary / "meta.json").write_text(json.dumps(meta, indent=1))
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(temporary, folder)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary)
        return cls(folder)


def line_pieces(text: str, size: int) -> list[str]:
    """``text`` cut into pieces of about ``size`` characters, each cut just before a
    whitespace character (so a byte-level BPE's leading-space tokens, a word tokenizer's
    words and a character tokenizer's spaces come out as in the whole line); a stretch of
    ``size`` characters without whitespace (unspaced Chinese) is cut where it ends, where a
    word or WordPiece tokenizer may differ (one [UNK] per piece instead of one)."""
    pieces, start = [], 0
    while len(text) - start > size:
        stop = start + size
        cut = max(text.rfind(" ", start + 1, stop), text.rfind("\t", start + 1, stop))
        cut = cut if cut > start else stop
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _write_chunks(lines: Iterable[CorpusLine], tokenizer: TextTokenizer, folder: Path,
                  dtype) -> dict:
    """Append ids, line ends and document ends chunk by chunk; return the counts. A chunk
    holds at most CHUNK_LINES entries and about CHUNK_CHARS characters; a line longer than
    PIECE_CHARS enters as several pieces (one <eos> and one line end after its last), so a
    corpus of one huge line is tokenized in bounded memory too."""
    num_tokens = num_lines = num_docs = entries_flushed = 0
    chunk: list[str] = []
    line_ending: list[bool] = []  # per chunk entry: the last piece of its line
    doc_end_entries: list[int] = []  # chunk entries that end a document
    chunk_chars = 0
    last_marked = -1  # global index of the last entry marked as a document end
    with open(folder / "ids.bin", "wb") as ids_file, \
            open(folder / "line_ends.bin", "wb") as line_file, \
            open(folder / "doc_ends.bin", "wb") as doc_file:

        def flush():
            nonlocal num_tokens, num_lines, num_docs, entries_flushed, chunk_chars
            if not chunk:
                return
            encoded = tokenizer.encode_batch(chunk)
            eos = np.asarray(line_ending, dtype=np.int64)  # (entries,) 1 = <eos> follows
            lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64,
                                  count=len(encoded)) + eos
            flat = np.fromiter((i for e, end in zip(encoded, line_ending)
                                for i in (*e, tokenizer.eos_id)[:len(e) + end]),
                               dtype=dtype, count=int(lengths.sum()))
            ends = num_tokens + np.cumsum(lengths)  # (entries,)
            flat.tofile(ids_file)
            ends[eos.astype(bool)].tofile(line_file)
            ends[doc_end_entries].tofile(doc_file)
            num_tokens = int(ends[-1])
            num_lines += int(eos.sum())
            num_docs += len(doc_end_entries)
            entries_flushed += len(chunk)
            chunk.clear()
            line_ending.clear()
            doc_end_entries.clear()
            chunk_chars = 0

        def mark_document_end():
            nonlocal last_marked, num_docs
            last_entry = entries_flushed + len(chunk) - 1
            if last_entry < 0 or last_entry == last_marked:
                return  # leading or repeated blank lines
            last_marked = last_entry
            if chunk:
                doc_end_entries.append(len(chunk) - 1)
            else:  # the line was flushed already: its end is the current token count
                np.asarray([num_tokens], dtype=np.int64).tofile(doc_file)
                num_docs += 1

        for line in lines:
            if line.is_boundary:
                mark_document_end()
                continue
            pieces = line_pieces(line.text, PIECE_CHARS)
            for index, piece in enumerate(pieces):
                chunk.append(piece)
                line_ending.append(index == len(pieces) - 1)
                chunk_chars += len(piece)
                if len(chunk) >= CHUNK_LINES or chunk_chars >= CHUNK_CHARS:
                    flush()
        mark_document_end()  # the corpus ends a document
        flush()
    return {"num_tokens": num_tokens, "num_lines": num_lines, "num_docs": num_docs}


def _memmap(path: Path, dtype) -> np.ndarray:
    """Read-only memory map (numpy refuses to map an empty file: return an empty array)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def store_key(source: Path, tokenizer: TextTokenizer, extra: str = "") -> str:
    stat = source.stat()
    digest = hashlib.sha256()
    digest.update(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{extra}".encode())
    digest.update(tokenizer.backend.to_str().encode())
    return digest.hexdigest()[:24]
