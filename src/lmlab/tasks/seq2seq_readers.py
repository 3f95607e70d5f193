"""Readers of the generation tasks: AG News as description -> title (headline generation)
and tab-separated parallel text (translation), and the seeded split of a single file.

AG News is published as CSV rows ``class,title,description`` (Zhang et al. 2015; no
header in the original ``ag_news_csv``; ``label,title,description`` in the copy under
``$LMLAB_DATA``); both are read. Its texts carry the crawl's escapes: ``\\`` for a line
break and ``#39;`` / ``#36;`` / ``&lt;b&gt;`` for HTML entities; they are undone here, so
references and model inputs are plain text.
"""

from __future__ import annotations

import html
import random
import re
from pathlib import Path

from lmlab.errors import DataError
from lmlab.tasks.examples import Seq2SeqExample
from lmlab.tasks.tsv_readers import ColumnLayout, read_columns

_BARE_ENTITY = re.compile(r"(?<!&)#(\d+);")
_POSSESSIVE = re.compile(r"\s+#39;(?=(s|t|re|ve|ll|d|m)\b)")  # "market #39;s" -> "market's"
_TAG = re.compile(r"<[^>]{1,40}>")
_SPACES = re.compile(r"\s+")


def clean_ag_news(text: str) -> str:
    """``Fed #39;s rate \\ hike &lt;b&gt;...&lt;/b&gt;`` -> ``Fed's rate hike ...``."""
    text = _POSSESSIVE.sub("'", text.replace("\\", " "))
    text = html.unescape(_BARE_ENTITY.sub(r"&#\1;", text))
    return _SPACES.sub(" ", _TAG.sub(" ", text)).strip()


def _has_header(path: Path) -> bool:
    """An AG News file starts with a header when its first field is not a class number."""
    try:
        with path.open("rb") as handle:
            first = handle.readline().decode("utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    return not first.split(",", 1)[0].strip().strip('"').isdigit()


def _columns(path: Path, layout: ColumnLayout, names: dict[str, str]) -> list:
    """:func:`read_columns` with its errors naming this dataset's fields (``names``:
    ``{"text_a": ..., "label": ...}``)."""
    try:
        return read_columns(path, layout)
    except DataError as error:
        message = str(error)
        for field, name in names.items():
            message = message.replace(f"field {field!r}", f"field {name!r}")
        raise DataError(message) from None


def read_headlines(path: str | Path) -> list[Seq2SeqExample]:
    """AG News rows -> (description, title) examples."""
    path = Path(path)
    layout = (ColumnLayout("description", None, "title", header=True, delimiter=",")
              if _has_header(path) else ColumnLayout(2, None, 1, header=False, delimiter=","))
    examples = []
    for row in _columns(path, layout, {"text_a": "description", "label": "title"}):
        text, title = clean_ag_news(row.text_a), clean_ag_news(row.label)
        if not text or not title:
            raise DataError(f"{row.source}: field {'description' if not text else 'title'!r} "
                            f"is empty")
        examples.append(Seq2SeqExample(text, title, row.source))
    return examples


def read_parallel(path: str | Path) -> list[Seq2SeqExample]:
    """``source<TAB>target`` lines (the news-commentary sample: English -> Chinese)."""
    rows = _columns(Path(path), ColumnLayout(0, None, 1, header=False),
                    {"text_a": "source", "label": "target"})
    for row in rows:
        if not row.text_a.strip():
            raise DataError(f"{row.source}: the source text (first column) is empty")
    return [Seq2SeqExample(row.text_a.strip(), row.label, row.source) for row in rows]


def seeded_split(examples: list, split: str, sizes: dict[str, int], seed: int = 0) -> list:
    """The part ``split`` of a fixed seeded partition of ``examples`` into consecutive
    parts of ``sizes`` (in that order) after one shuffle, returned in file order. A file
    shorter than the sizes' total is an error naming both."""
    total = sum(sizes.values())
    if len(examples) < total:
        source = examples[0].source.rsplit(":", 1)[0] if examples else "the file"
        raise DataError(f"{source}: {len(examples)} examples, but the split "
                        f"{', '.join(f'{k} {v}' for k, v in sizes.items())} needs {total}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    start = 0
    for name, size in sizes.items():
        if name == split:
            return [examples[i] for i in sorted(order[start:start + size])]
        start += size
    raise DataError(f"split {split!r}: expected one of {', '.join(sizes)}")
