"""ARPA back-off files: write the standard format, read KenLM's and SRILM's.

Format (Doug Paul's ARPA format, as SRILM ``ngram-format(5)`` documents it)::

    \\data\\
    ngram 1=<count>
    ...
    \\1-grams:
    <log10 prob>  <w1>  [<log10 backoff>]
    ...
    \\end\\

Fields are separated by tabs or spaces. The highest order has no backoff column. Text
before ``\\data\\`` is ignored (SRILM and KenLM headers). Every problem raises
:class:`DataError` naming the file, the line, what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from lmlab.errors import DataError
from lmlab.ngram.arpa_text import section_chunks, word_buffer
from lmlab.ngram.model import NgramModel
from lmlab.ngram.vocab import SPECIAL_TOKENS, Vocabulary

_COUNT_LINE = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")
MISSING_SPECIAL_LOG_PROB = -100.0  # what KenLM substitutes for a missing <unk>/<s>/</s>


def _write_frame(model: NgramModel, path: Path, write_section) -> Path:
    """Header, one ``write_section(out, k, present)`` per order, end; atomic (temp + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(b"\\data\\\n")
        for k, size in enumerate(model.sizes(), start=1):
            out.write(f"ngram {k}={size}\n".encode("ascii"))
        for k in range(1, model.order + 1):
            out.write(f"\n\\{k}-grams:\n".encode("ascii"))
            write_section(out, k, ~np.isnan(model.log_prob[k - 1]))  # blanks are not written
        out.write(b"\n\\end\\\n")
    tmp.replace(path)
    return path


def write_arpa(model: NgramModel, path: str | Path) -> Path:
    """Write ``model`` as ARPA (blanks are not written). Returns the path.

    Vectorized (:mod:`lmlab.ngram.arpa_text`); the bytes equal those of
    :func:`write_arpa_reference`.
    """
    words = word_buffer(model.vocab.words)

    def write_section(out, k, present):
        backoff = model.log_backoff[k - 1][present] if k < model.order else None
        for block in section_chunks(words, model.ngram_words(k)[present],
                                    model.log_prob[k - 1][present], backoff):
            out.write(block)

    return _write_frame(model, Path(path), write_section)


def write_arpa_reference(model: NgramModel, path: str | Path) -> Path:
    """Reference twin of :func:`write_arpa`: one Python string per line, ``%.7g`` floats."""
    words = model.vocab.words
    strings: list[str] = []

    def write_section(out, k, present):
        nonlocal strings
        first = model.first_word[k - 1].tolist()
        if k == 1:
            strings = [words[w] for w in first]
        else:
            parent = model.parent[k - 1].tolist()
            strings = [words[w] + " " + strings[p] for w, p in zip(first, parent)]
        text = [s for s, keep in zip(strings, present.tolist()) if keep]
        probs = ["%.7g" % p for p in model.log_prob[k - 1][present].tolist()]
        if k < model.order:
            backoffs = ["%.7g" % b for b in model.log_backoff[k - 1][present].tolist()]
            lines = (f"{p}\t{s}\t{b}\n" for p, s, b in zip(probs, text, backoffs))
        else:
            lines = (f"{p}\t{s}\n" for p, s in zip(probs, text))
        out.write("".join(lines).encode("utf-8"))

    return _write_frame(model, Path(path), write_section)


def _fail(path, line_number, message):
    raise DataError(f"{path}:{line_number}: {message}")


def _parse_float(text, path, line_number, what):
    try:
        value = float(text)
    except ValueError:
        _fail(path, line_number, f"expected a {what} (a number), got {text!r}")
    if math.isnan(value):
        _fail(path, line_number, f"{what} is NaN")
    return value


def _fast_section(block: list[bytes], k: int, order: int):
    """Vectorized parse of one section when every line is well formed, else None."""
    widths = (k + 1,) if k == order else (k + 2, k + 1)
    try:
        fields = b" ".join(block).decode("utf-8").split()
    except UnicodeDecodeError:
        return None
    lines = len(block)
    for width in widths:
        if len(fields) == lines * width:
            columns = [fields[i::width] for i in range(width)]
            joined = b"\n" + b"\n".join(block) + b"\n"
            if b"\n\\" in joined or re.search(rb"\n[ \t\r]*\n", joined):
                return None  # a section header or blank line inside: count mismatch
            try:
                probs = np.array(columns[0], dtype=np.float64)
                backoffs = np.array(columns[k + 1], dtype=np.float64) if width == k + 2 \
                    else np.zeros(lines)
            except ValueError:
                return None
            if np.isnan(probs).any() or np.isnan(backoffs).any() or (probs > 0).any():
                return None  # the line-by-line parse names the bad line
            return columns[1:k + 1], probs, backoffs
    return None


def _slow_section(path, next_line, k, order, count):
    words, probs, backoffs = [[] for _ in range(k)], [], []
    for _ in range(count):
        number, text = next_line(f"{count} entries in \\{k}-grams:")
        fields = text.split()
        if text.startswith("\\"):
            _fail(path, number, f"\\{k}-grams: has {len(probs)} entries but the header says "
                                f"ngram {k}={count}")
        if len(fields) not in (k + 1, k + 2) or (k == order and len(fields) != k + 1):
            want = f"{k + 1}" if k == order else f"{k + 1} or {k + 2}"
            _fail(path, number, f"a {k}-gram line needs {want} fields (log10 prob, {k} "
                                f"word(s){'' if k == order else ', optional backoff'}); "
                                f"got {len(fields)}: {text!r}")
        probs.append(_parse_float(fields[0], path, number, "log10 probability"))
        if probs[-1] > 0:
            _fail(path, number, f"log10 probability {fields[0]} is above 0 (a probability "
                                f"above 1): {text!r}")
        backoffs.append(_parse_float(fields[k + 1], path, number, "log10 backoff")
                        if len(fields) == k + 2 else 0.0)
        for column, word in zip(words, fields[1:k + 1]):
            column.append(word)
    return words, np.array(probs), np.array(backoffs)


def read_arpa_entries(path: str | Path):
    """Parse an ARPA file: per order (word columns, log10 probs, log10 backoffs)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such ARPA file")
    with open(path, "rb") as handle:
        raw_lines = handle.read().split(b"\n")
    line_iter = iter(enumerate(raw_lines, start=1))

    def next_line(expected: str):
        for number, raw in line_iter:
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                _fail(path, number, "bytes are not valid UTF-8")
            if text:
                return number, text
        raise DataError(f"{path}: the file ends early; expected {expected}")

    # Header: skip to \data\, then "ngram k=count" lines.
    while True:
        number, text = next_line("\\data\\")
        if text == "\\data\\":
            break
        if _SECTION.match(text) or _COUNT_LINE.match(text):
            _fail(path, number, f"expected \\data\\ before {text!r} (missing \\data\\ section)")
    counts: list[int] = []
    while True:
        number, text = next_line("ngram counts or \\1-grams:")
        match = _COUNT_LINE.match(text)
        if not match:
            break
        k, count = int(match.group(1)), int(match.group(2))
        if k != len(counts) + 1:
            _fail(path, number, f"expected 'ngram {len(counts) + 1}=<count>', got {text!r}")
        counts.append(count)
    if not counts:
        _fail(path, number, f"expected 'ngram 1=<count>' header lines after \\data\\, got {text!r}")
    order = len(counts)
    entries: list[list] = []
    for k in range(1, order + 1):
        if text != f"\\{k}-grams:":
            _fail(path, number, f"expected \\{k}-grams: (header declares {order} orders), got {text!r}")
        block = raw_lines[number:number + counts[k - 1]]  # the section's lines, if well formed
        rows = _fast_section(block, k, order)
        if rows is None:  # something is off: walk line by line to say where
            rows = _slow_section(path, next_line, k, order, counts[k - 1])
        else:
            for _ in range(counts[k - 1]):
                next(line_iter)
        entries.append(rows)
        want = f"\\{k + 1}-grams:" if k < order else "\\end\\"
        number, text = next_line(want)
        if text != want:
            _fail(path, number, f"expected {want} after {counts[k - 1]} {k}-grams "
                                f"(header says ngram {k}={counts[k - 1]}), got {text!r}")
    return entries


def read_arpa(path: str | Path) -> NgramModel:
    """Load any ARPA file into an :class:`NgramModel` (missing suffixes become blanks)."""
    path = Path(path)
    entries = read_arpa_entries(path)
    unigram_words = entries[0][0][0]
    seen = set(unigram_words)
    if len(seen) != len(unigram_words):
        raise DataError(f"{path}: a word is listed twice in \\1-grams:")
    words = list(SPECIAL_TOKENS) + [w for w in unigram_words if w not in SPECIAL_TOKENS]
    vocab = Vocabulary(words)
    size = len(vocab)
    notes = [f"{w} missing; log10 p = {MISSING_SPECIAL_LOG_PROB}" for w in SPECIAL_TOKENS if w not in seen]
    get = vocab.word_to_id.get
    unigram_ids = np.array([get(w) for w in unigram_words], dtype=np.int64)
    unigram_prob = np.full(size, MISSING_SPECIAL_LOG_PROB)
    unigram_backoff = np.zeros(size)
    unigram_prob[unigram_ids] = entries[0][1]
    unigram_backoff[unigram_ids] = entries[0][2]
    rows_by_order, probs, backoffs = [np.arange(size)[:, None]], [unigram_prob], [unigram_backoff]
    for k in range(2, len(entries) + 1):
        columns, prob, backoff = entries[k - 1]
        try:
            matrix = np.stack([np.fromiter(map(vocab.word_to_id.__getitem__, column), np.int64,
                                           len(column)) for column in columns], axis=1)
        except KeyError as error:
            raise DataError(f"{path}: a {k}-gram uses the word {error.args[0]!r}, which is not "
                            f"in \\1-grams:") from None
        matrix = matrix.reshape(-1, k)
        rows_by_order.append(matrix)
        probs.append(prob)
        backoffs.append(backoff)
    model = from_rows(vocab, rows_by_order, probs, backoffs)
    model.info["arpa_notes"] = notes
    return model


def _as_void(matrix: np.ndarray) -> np.ndarray:
    big_endian = np.ascontiguousarray(matrix.astype(">u4"))
    return big_endian.view(np.dtype((np.void, 4 * matrix.shape[1]))).ravel()


def _suffixes_complete(rows_by_order, size) -> bool:
    """Whether every n-gram's (k-1)-word suffix is present (the usual case: fast check)."""
    keys = [None, None]
    for k in range(2, len(rows_by_order) + 1):
        rows = rows_by_order[k - 1]
        suffix = rows[:, k - 1]
        for j in range(2, k):
            query = suffix * size + rows[:, k - j]
            suffix = np.minimum(np.searchsorted(keys[j], query), max(keys[j].size - 1, 0))
            if keys[j].size == 0 or (keys[j][suffix] != query).any():
                return False
        lower = rows_by_order[k - 1]
        if k == 2:
            keys.append(np.sort(lower[:, 1] * size + lower[:, 0]))
        else:
            keys.append(np.sort(suffix * size + rows[:, 0]))
    return True


def _insert_blanks(rows_by_order, probs, backoffs) -> None:
    """Add the missing suffixes as blanks (prob NaN), top-down so blanks get theirs too."""
    for k in range(len(rows_by_order), 2, -1):
        have, need = rows_by_order[k - 2], rows_by_order[k - 1][:, 1:]
        both = np.concatenate([_as_void(have), _as_void(need)])
        _, first_index = np.unique(both, return_index=True)
        missing = first_index[first_index >= have.shape[0]] - have.shape[0]
        if missing.size:
            rows_by_order[k - 2] = np.concatenate([have, need[missing]])
            probs[k - 2] = np.concatenate([probs[k - 2], np.full(missing.size, np.nan)])
            backoffs[k - 2] = np.concatenate([backoffs[k - 2], np.zeros(missing.size)])


def from_rows(vocab: Vocabulary, rows_by_order, probs, backoffs) -> NgramModel:
    """Build the suffix-keyed model from word-id rows; insert blanks for missing suffixes."""
    size = len(vocab)
    order = len(rows_by_order)
    if not _suffixes_complete(rows_by_order, size):
        _insert_blanks(rows_by_order, probs, backoffs)
    first_word, parent, keys, log_prob, log_backoff = [], [], [], [], []
    for k in range(1, order + 1):
        rows = rows_by_order[k - 1]
        if k == 1:
            par = np.zeros(size, dtype=np.int64)
            key = np.arange(size, dtype=np.int64)
        else:
            suffix = rows[:, k - 1]  # unigram id = word id
            for j in range(2, k):  # walk the suffix up to order k-1
                suffix = np.searchsorted(keys[j - 1], suffix * size + rows[:, k - j])
            par = suffix
            key = par * size + rows[:, 0]
        sort = np.argsort(key, kind="stable")
        key = key[sort]
        if k > 1 and key.size > 1 and (key[1:] == key[:-1]).any():
            raise DataError(f"an n-gram of order {k} is listed twice in the ARPA file")
        first_word.append(rows[sort, 0])
        parent.append(par[sort])
        keys.append(key)
        log_prob.append(probs[k - 1][sort])
        log_backoff.append(backoffs[k - 1][sort])
    return NgramModel(vocab, first_word, parent, keys, log_prob, log_backoff)
