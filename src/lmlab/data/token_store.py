"""Token store (DESIGN §3): a corpus tokenized once into a memory-mapped id array.

Layout of a store folder::

    ids.bin           uint16/uint32 token ids, every line followed by <eos>
    line_ends.bin     int64 offset one past each line's <eos>
    doc_ends.bin      int64 offset one past each document's last line
    meta.json         dtype, counts, source fingerprint, tokenizer fingerprint

It is built in chunks of lines (``encode_batch``) appended to the files, so memory stays
flat however large the corpus; it is written into a temporary folder renamed into place,
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


def _write_chunks(lines: Iterable[CorpusLine], tokenizer: TextTokenizer, folder: Path,
                  dtype) -> dict:
    """Append ids, line ends and document ends chunk by chunk; return the counts."""
    num_tokens = flushed_lines = num_docs = 0
    chunk: list[str] = []
    doc_end_lines: list[int] = []  # indices (within chunk) of lines that end a document
    last_marked = -1  # global index of the last line marked as a document end
    with open(folder / "ids.bin", "wb") as ids_file, \
            open(folder / "line_ends.bin", "wb") as line_file, \
            open(folder / "doc_ends.bin", "wb") as doc_file:

        def flush():
            nonlocal num_tokens, flushed_lines, num_docs
            if not chunk:
                return
            encoded = tokenizer.encode_batch(chunk)
            lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
            flat = np.fromiter((i for e in encoded for i in (*e, tokenizer.eos_id)),
                               dtype=dtype, count=int(lengths.sum()))
            ends = num_tokens + np.cumsum(lengths)  # (lines,)
            flat.tofile(ids_file)
            ends.tofile(line_file)
            ends[doc_end_lines].tofile(doc_file)
            num_tokens, flushed_lines = int(ends[-1]), flushed_lines + len(chunk)
            num_docs += len(doc_end_lines)
            chunk.clear()
            doc_end_lines.clear()

        def mark_document_end():
            nonlocal last_marked, num_docs
            last_line = flushed_lines + len(chunk) - 1
            if last_line < 0 or last_line == last_marked:
                return  # leading or repeated blank lines
            last_marked = last_line
            if chunk:
                doc_end_lines.append(len(chunk) - 1)
            else:  # the line was flushed already: its end is the current token count
                np.asarray([num_tokens], dtype=np.int64).tofile(doc_file)
                num_docs += 1

        for line in lines:
            if line.is_boundary:
                mark_document_end()
                continue
            chunk.append(line.text)
            if len(chunk) >= CHUNK_LINES:
                flush()
        mark_document_end()  # the corpus ends a document
        flush()
    return {"num_tokens": num_tokens, "num_lines": flushed_lines, "num_docs": num_docs}


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
