"""Readers for delimited text files: GLUE TSVs, CLUE TSV/CSV, THUCNews lines.

A :class:`ColumnLayout` says where ``text_a``, ``text_b`` and ``label`` are, by header
name (GLUE's own headers: ``sentence``, ``#1 String``, ``gold_label``, ...) or by position
(CoLA and LCQMC have no header). GLUE files are split on tabs without quote handling (its
sentences contain unbalanced quotes); CSV files (BQ) go through :mod:`csv`. A row with too
few fields or a label that is not a number (regression) raises :class:`DataError` naming
the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.corpus import decode_text
from lmlab.errors import DataError
from lmlab.tasks.examples import TextExample

Column = str | int | None


@dataclass(frozen=True)
class ColumnLayout:
    text_a: Column
    text_b: Column = None
    label: Column = None
    header: bool = True
    """Whether the first row is a header (positions may still be used with a header)."""
    delimiter: str = "\t"
    regression: bool = False


def _rows(path: Path, delimiter: str):
    """(line number, fields) for every non-empty row; BOMs stripped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    with io.StringIO(decode_text(data, path), newline="") as handle:
        if delimiter == "\t":
            for number, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, line.split("\t")
        else:
            reader = csv.reader(handle, delimiter=delimiter)
            try:
                for fields in reader:
                    if any(f.strip() for f in fields):
                        yield reader.line_num, fields
            except csv.Error as error:
                raise DataError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None


def _index(column: Column, header: list[str] | None, path: Path, field: str) -> int | None:
    if column is None or isinstance(column, int):
        return column
    if header is None or column not in header:
        return None  # e.g. no label column in a GLUE test file
    return header.index(column)


def read_columns(path: str | Path, layout: ColumnLayout) -> list[TextExample]:
    path = Path(path)
    rows = _rows(path, layout.delimiter)
    header = None
    if layout.header:
        first = next(rows, None)
        if first is None:
            return []
        header = [name.strip() for name in first[1]]
        if isinstance(layout.text_a, str) and layout.text_a not in header:
            raise DataError(f"{path}:{first[0]}: header has no {layout.text_a!r} column "
                            f"(found: {', '.join(header)})")
    columns = {name: _index(getattr(layout, name), header, path, name)
               for name in ("text_a", "text_b", "label")}
    needed = max(i for i in columns.values() if i is not None) + 1
    examples = []
    for number, fields in rows:
        if len(fields) < needed:
            missing = [n for n, i in columns.items() if i is not None and i >= len(fields)]
            raise DataError(f"{path}:{number}: field {missing[0]!r}: expected at least "
                            f"{needed} fields, found {len(fields)}")
        label = None if columns["label"] is None else fields[columns["label"]].strip()
        if layout.regression and label is not None:
            try:
                label = float(label)
            except ValueError:
                raise DataError(f"{path}:{number}: field 'label': {label!r} is not a "
                                f"number") from None
        elif label == "":
            raise DataError(f"{path}:{number}: field 'label' is empty")
        text_b = None if columns["text_b"] is None else fields[columns["text_b"]]
        examples.append(TextExample(fields[columns["text_a"]], text_b, label,
                                    f"{path}:{number}"))
    return examples


CLUE_XNLI = ColumnLayout("text_a", "text_b", "label")
XNLI_1_0 = ColumnLayout("sentence1", "sentence2", "gold_label")


def read_xnli(path: str | Path, language: str = "zh") -> list[TextExample]:
    """XNLI (Conneau et al. 2018) in either public layout: CLUE / ERNIE's Chinese
    ``text_a, text_b, label``, or XNLI 1.0's ``xnli.{dev,test}.tsv`` (``language,
    gold_label, ..., sentence1, sentence2, ...``, 15 languages in one file), of which only
    the rows in ``language`` are kept."""
    path = Path(path)
    first = next(_rows(path, "\t"), None)
    header = [] if first is None else [name.strip() for name in first[1]]
    if "language" not in header or "gold_label" not in header:
        return read_columns(path, CLUE_XNLI)
    column = header.index("language")
    keep = {f"{path}:{number}" for number, fields in _rows(path, "\t")
            if len(fields) > column and fields[column].strip() == language}
    return [e for e in read_columns(path, XNLI_1_0) if e.source in keep]
