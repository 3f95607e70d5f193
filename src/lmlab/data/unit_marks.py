"""Masking units that come from the text, computed once per token store (DESIGN §3).

Some masked-LM corruptions choose units the vocabulary cannot tell: Chinese words (jieba,
:mod:`lmlab.data.word_segmentation`) and ERNIE's phrases/entities (a span file,
:mod:`lmlab.data.span_dictionary`). Like HF's ``run_chinese_ref.py`` reference file they
are computed once and stored beside the token store, one byte per token::

    <store>/units-<source>-<key>/marks.bin   uint8, aligned with ids.bin
    <store>/units-<source>-<key>/meta.json   source, key, counts

0 = the token is in no unit (special tokens, ERNIE's basic level), 1 = it starts a unit,
2 = it continues the unit before it. The key is the jieba version or the span file's
sha256, so a new dictionary builds new marks; the folder is written atomically (temp +
rename). The batchers slice the marks exactly as they slice the ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterable

import numpy as np

from lmlab.data.catalogue import data_dir
from lmlab.data.span_dictionary import match_line, span_table
from lmlab.data.word_segmentation import jieba_marks
from lmlab.errors import DataError
from lmlab.presets import packaged_path

CHUNK_LINES = 4096
MARKS = "marks.bin"


def resolve_span_file(name: str) -> Path:
    """A span file path: as given (from the current folder), else under ``$LMLAB_DATA``,
    else among the package's presets (``ernie/conll2003_spans.txt`` ships with ernie/tiny)."""
    path = Path(name).expanduser()
    candidates = ([path] if path.is_absolute() else
                  [path, data_dir() / path, packaged_path(path.as_posix())])
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise DataError(f"{name}: no such span file (looked at {', '.join(map(str, candidates))})")


def _key(source: str, argument: str) -> str:
    if source == "jieba":
        return f"jieba-{metadata.version('jieba')}"  # no import: reading marks never loads jieba
    digest = hashlib.sha256(resolve_span_file(argument).read_bytes()).hexdigest()
    return f"spans-{digest[:16]}"


def load_or_build(store, source: tuple[str, str], tokenizer, lines: Iterable,
                  starts_word: np.ndarray | None = None) -> np.ndarray:
    """The (N,) uint8 marks of ``store`` for ``source`` = ("jieba", "") or ("spans", file);
    built on first use. ``lines``: the split's corpus lines (read only to build jieba
    marks); ``starts_word``: (V,) bool vocabulary word starts, for span boundaries."""
    kind, argument = source
    folder = Path(store.folder) / f"units-{_key(kind, argument)}"
    if not (folder / "meta.json").exists():
        temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".units-"))
        try:
            with open(temporary / MARKS, "wb") as out:
                counts = (_write_jieba(store, tokenizer, lines, out) if kind == "jieba" else
                          _write_spans(store, resolve_span_file(argument), tokenizer,
                                       starts_word, out))
            (temporary / "meta.json").write_text(json.dumps({"source": kind, **counts}, indent=1))
            os.replace(temporary, folder)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary)
    marks = np.memmap(folder / MARKS, dtype=np.uint8, mode="r") if len(store) else np.zeros(0, np.uint8)
    if len(marks) != len(store):
        raise DataError(f"{folder}: {len(marks)} marks for {len(store)} tokens; delete the "
                        f"folder to rebuild it")
    return marks


def _write_jieba(store, tokenizer, lines: Iterable, out) -> dict:
    written, words, chunk = 0, 0, []

    def flush():
        nonlocal written, words
        for marks in jieba_marks(chunk, tokenizer):
            np.append(marks, np.uint8(0)).tofile(out)  # the line's <eos> is in no word
            written += len(marks) + 1
            words += int((marks == 1).sum())
        chunk.clear()

    for line in lines:
        if line.is_boundary:
            continue
        chunk.append(line.text)
        if len(chunk) >= CHUNK_LINES:
            flush()
    flush()
    if written != len(store):
        raise DataError(f"{store.folder}: jieba marks cover {written} tokens, the store "
                        f"{len(store)}; the corpus changed since the store was built")
    return {"tokens": written, "units": words}


def _write_spans(store, span_file: Path, tokenizer, starts_word, out) -> dict:
    table = span_table(span_file, tokenizer)
    ends = np.asarray(store.line_ends)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    units = covered = 0
    for first in range(0, len(ends), CHUNK_LINES):
        lo, hi = int(starts[first]), int(ends[min(first + CHUNK_LINES, len(ends)) - 1])
        ids = np.asarray(store.ids[lo:hi], dtype=np.int64).tolist()
        for a, b in zip(starts[first: first + CHUNK_LINES], ends[first: first + CHUNK_LINES]):
            marks = match_line(ids[a - lo: b - lo], table, starts_word)
            marks.tofile(out)
            units += int((marks == 1).sum())
            covered += int((marks > 0).sum())
    return {"tokens": len(store), "units": units, "covered_tokens": covered,
            "span_file": str(span_file)}
