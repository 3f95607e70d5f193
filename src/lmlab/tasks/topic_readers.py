"""AG News topic classification (Zhang, Zhao & LeCun 2015, "Character-level Convolutional
Networks for Text Classification", §4): 4 classes, World (1), Sports (2), Business (3),
Sci/Tech (4), from rows ``class,title,description`` (the public ``ag_news_csv`` layout,
with or without the ``label,title,description`` header). The input is the title and the
description as one text (Zhang et al. concatenate them); labels are the class index
minus one (``"0"``–``"3"``). The crawl's escapes are undone as for the headline task
(:func:`lmlab.tasks.seq2seq_readers.clean_ag_news`).
"""

from __future__ import annotations

from pathlib import Path

from lmlab.errors import DataError
from lmlab.tasks.examples import TextExample
from lmlab.tasks.seq2seq_readers import _columns, _has_header, clean_ag_news
from lmlab.tasks.tsv_readers import ColumnLayout

AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
"""Class names in label order: label ``"i"`` is class index i + 1 of the CSV."""


def read_topics(path: str | Path) -> list[TextExample]:
    """AG News rows -> ("title description", label "0".."3") examples."""
    path = Path(path)
    layout = (ColumnLayout("title", "description", "label", header=True, delimiter=",")
              if _has_header(path) else
              ColumnLayout(1, 2, 0, header=False, delimiter=","))
    examples = []
    for row in _columns(path, layout, {"text_a": "title", "text_b": "description"}):
        if row.label not in ("1", "2", "3", "4"):
            raise DataError(f"{row.source}: field 'label': expected a class index 1-4, got "
                            f"{row.label!r}")
        text = clean_ag_news(f"{row.text_a} {row.text_b}")
        if not text:
            raise DataError(f"{row.source}: title and description are both empty")
        examples.append(TextExample(text, None, str(int(row.label) - 1), row.source))
    return examples
