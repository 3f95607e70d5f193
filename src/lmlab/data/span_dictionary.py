"""ERNIE 1.0's phrase and entity units from a supplied span list (Sun et al. 2019, §3.2).

ERNIE masks whole phrases and entities, found by lexical analysis and NER in the paper.
Here they come from a *span file*: UTF-8, one phrase or entity per line, optionally
followed by a tab and its type (``New York<TAB>LOC``; entities exported from NER tags
fit this format). Blank lines and lines starting with ``#`` are skipped. Every other
line must be ``phrase`` or ``phrase<TAB>type`` with a non-empty phrase; anything else is
an error naming the file and the line.

Each phrase is tokenised with the run's tokenizer and matched against the token store
*once* (:mod:`lmlab.data.unit_marks`), never per batch. Matching, line by line: scan
left to right; at each position take the longest dictionary phrase whose tokens follow
exactly, provided it starts and ends on word boundaries (a WordPiece ``##`` piece never
begins or continues past a span); matched tokens are skipped, so spans never overlap.
Phrases holding the unknown token are ignored (``<unk> <unk>`` is not an entity).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from lmlab.errors import DataError


def read_span_file(path: Path) -> list[tuple[int, str]]:
    """(line number, phrase) for every entry of a span file."""
    if not path.exists():
        raise DataError(f"{path}: no such span file (phrases/entities, one per line)")
    entries = []
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{line_number}: not UTF-8 ({error.reason})") from None
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) > 2 or not fields[0].strip() or (len(fields) == 2 and not fields[1].strip()):
                raise DataError(f"{path}:{line_number}: expected 'phrase' or 'phrase<TAB>type', "
                                f"got {line!r}")
            entries.append((line_number, fields[0].strip()))
    if not entries:
        raise DataError(f"{path}: the span file holds no phrase")
    return entries


def span_table(path: Path, tokenizer) -> dict[int, list[tuple[int, ...]]]:
    """First token id -> the phrases (token-id tuples) starting with it, longest first."""
    table: dict[int, set[tuple[int, ...]]] = {}
    for line_number, phrase in read_span_file(path):
        ids = tuple(tokenizer.encode(phrase))
        if not ids:
            raise DataError(f"{path}:{line_number}: {phrase!r} tokenises to nothing")
        if tokenizer.unk_id in ids:
            continue
        table.setdefault(ids[0], set()).add(ids)
    return {first: sorted(phrases, key=lambda p: (-len(p), p)) for first, phrases in table.items()}


def match_line(ids: list[int], table: dict[int, list[tuple[int, ...]]],
               starts_word: np.ndarray | None) -> np.ndarray:
    """Marks (len(ids),) uint8 for one line: 1 starts a matched span, 2 continues it, 0 else."""
    marks = np.zeros(len(ids), dtype=np.uint8)
    i = 0
    while i < len(ids):
        matched = 0
        if ids[i] in table and (starts_word is None or starts_word[ids[i]]):
            for phrase in table[ids[i]]:
                end = i + len(phrase)
                if (tuple(ids[i:end]) == phrase
                        and (end == len(ids) or starts_word is None or starts_word[ids[end]])):
                    matched = len(phrase)
                    break
        if matched:
            marks[i], marks[i + 1: i + matched] = 1, 2
            i += matched
        else:
            i += 1
    return marks


def spans_from_conll(path: Path, min_phrase_count: int = 5) -> list[tuple[str, str]]:
    """(phrase, type) from a CoNLL-2003 file (``word POS chunk NER`` columns): every
    multi-word entity of the BIO NER tags (type PER/ORG/LOC/MISC), and every multi-word
    chunk (ERNIE's phrase level; type NP/VP/…) seen at least ``min_phrase_count`` times."""
    entities: dict[str, str] = {}
    phrases: Counter = Counter()
    phrase_type: dict[str, str] = {}

    def runs(rows, column):
        current, kind = [], None
        for row in rows + [None]:
            tag = row[column] if row else "O"
            if current and (tag == "O" or tag.startswith("B-") or tag[2:] != kind):
                yield " ".join(current), kind
                current, kind = [], None
            if tag != "O":
                if not current:
                    kind = tag[2:]
                current.append(row[0])

    sentence: list[list[str]] = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(list(handle) + [""], 1):
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                if len(fields) < 4:
                    raise DataError(f"{path}:{line_number}: expected 4 columns "
                                    f"(word POS chunk NER), got {line.rstrip()!r}")
                sentence.append(fields)
                continue
            for text, kind in runs(sentence, 3):
                if " " in text:
                    entities.setdefault(text, kind)
            for text, kind in runs(sentence, 2):
                if " " in text:
                    phrases[text] += 1
                    phrase_type.setdefault(text, kind)
            sentence = []
    frequent = [(p, phrase_type[p]) for p, n in sorted(phrases.items()) if n >= min_phrase_count]
    return sorted(entities.items()) + [(p, t) for p, t in frequent if p not in entities]
