"""A larger English pre-training corpus from the files of the data directory (issue 17).

WikiText-2 alone (2.1M words) is what the objectives suite pre-trained on; at its larger
budgets a model sees it 14 times. This builder pools every English text in
``$LMLAB_DATA`` that no evaluation scores:

* WikiText-2 train, its documents as they are (blank line between documents);
* the NLTK corpora shipped here: Brown, movie reviews, webtext, inaugural addresses,
  sentence polarity, subjectivity, the treebank sample and CoNLL-2000 (one document per
  file; Brown's and the treebank's tags dropped);
* the *train* texts of the GLUE tasks (CoLA, SST-2, MRPC, STS-B, RTE, WNLI) and of the
  SentEval sets (MR, CR, SUBJ, MPQA, SST2): unlabelled, a pair as a two-line document,
  which is task-adaptive pre-training (Gururangan et al. 2020, "Don't Stop Pretraining").

Left out: AG News (only its *test* file is here, and ``topic/ag_news`` scores it), QNLI
(only its dev file is here), and everything Chinese.

Deduplication: a line is dropped when its normalised form (lower case, letters and digits
only) equals that of any text field of any dev or test file in the data directory (GLUE
``dev*.tsv``/``test*.tsv`` and diagnostic, SentEval ``dev.tsv``, WikiText-2 valid/test,
AG News test), or of a line already kept. Held-back test files that are not in the data
directory cannot be checked; a user evaluating on them should rebuild against them with
``held_out=[...]``.

The output folder holds ``train.txt`` (the pool), ``valid.txt`` (WikiText-2 valid, so
held-out losses compare with WikiText-2 runs) and ``sources.json`` (per source: documents,
lines kept, lines dropped as held-out text or as repeats, words). ``data.dataset`` takes
the folder's path.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

from lmlab.atomic import write_json
from lmlab.data import catalogue
from lmlab.data.corpus import iter_lines
from lmlab.errors import DataError
from lmlab.tasks.catalogue import get_task

Document = list[str]  # its lines (sentences)

NLTK_CORPORA = ("brown", "movie_reviews", "webtext", "inaugural", "sentence_polarity",
                "subjectivity", "treebank", "conll2000")
GLUE_TRAIN = ("glue/cola", "glue/sst2", "glue/mrpc", "glue/stsb", "glue/rte", "glue/wnli")
SENTEVAL = ("MR", "CR", "SUBJ", "MPQA", "SST2")
_NOT_TEXT = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, letters and digits only: ``"Don't  stop!"`` -> ``"dontstop"``."""
    return _NOT_TEXT.sub("", text.lower())


def held_out_texts(data_dir: Path) -> set[str]:
    """Normalised text fields (of 4+ characters) of every dev/test file under ``data_dir``
    that an English evaluation reads."""
    files = [*sorted((data_dir / "glue").glob("*/dev*.tsv")),
             *sorted((data_dir / "glue").glob("*/test*.tsv")),
             *sorted((data_dir / "glue").glob("diagnostic/*.tsv")),
             *sorted((data_dir / "senteval_felipefreitas93").glob("*/dev.tsv")),
             *[data_dir / "wikitext-2" / f"{split}.txt" for split in ("valid", "test")],
             data_dir / "ag_news" / "test.csv"]
    texts: set[str] = set()
    for path in files:
        if not path.is_file():
            continue
        delimiter = "," if path.suffix == ".csv" else "\t"
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            for row in csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE):
                texts.update(key for key in map(normalise, row) if len(key) >= 4)
    return texts


def wikitext_documents(data_dir: Path) -> Iterator[Document]:
    document: Document = []
    for line in iter_lines(catalogue.resolve("wikitext-2", "train")):
        if line.is_boundary:
            if document:
                yield document
            document = []
        else:
            document.append(line.text.strip())
    if document:
        yield document


def nltk_documents(data_dir: Path, name: str) -> Iterator[Document]:
    """One document per file of the NLTK corpus ``name`` (a zip under
    ``data_dir/nltk_data/corpora``), its sentences as space-joined words."""
    root = data_dir / "nltk_data"
    if not (root / "corpora" / f"{name}.zip").exists():
        raise DataError(f"{root}/corpora/{name}.zip: missing (an NLTK corpus of the "
                        f"English pre-training pool)")
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    import nltk.corpus

    reader = getattr(nltk.corpus, name)
    for fileid in reader.fileids():
        try:  # tagged, bracketed and sentence-per-line readers split sentences themselves
            sentences = reader.sents(fileid)
        except (ValueError, LookupError):  # plain text would need punkt (not here): lines
            sentences = [line.split() for line in reader.raw(fileid).splitlines()]
        words = ([w for w in sentence if not w.startswith("*") and w != "0"]
                 for sentence in sentences)  # treebank traces (*T*-1, 0) are not text
        yield [" ".join(sentence) for sentence in words if sentence]


def task_documents(task: str) -> Iterator[Document]:
    """Each train example of ``task`` as a document: its text, or its pair as two lines."""
    for example in get_task(task).read("train"):
        yield [text for text in (example.text_a, example.text_b) if text and text.strip()]


def senteval_documents(data_dir: Path, name: str) -> Iterator[Document]:
    path = data_dir / "senteval_felipefreitas93" / name / "train.tsv"
    for line in iter_lines(path):
        label, tab, text = line.text.partition("\t")
        if not tab:
            raise DataError(f"{path}:{line.line_number}: expected 'label<TAB>sentence'")
        if text.strip():  # CR's train file has one empty sentence
            yield [text.strip()]


def sources(data_dir: Path) -> dict[str, Callable[[], Iterable[Document]]]:
    """Source name -> its documents, in the order they go into ``train.txt``."""
    found = {"wikitext-2": lambda: wikitext_documents(data_dir)}
    found.update({f"nltk/{name}": (lambda name=name: nltk_documents(data_dir, name))
                  for name in NLTK_CORPORA})
    found.update({f"{task} train": (lambda task=task: task_documents(task))
                  for task in GLUE_TRAIN})
    found.update({f"senteval/{name} train": (lambda name=name: senteval_documents(data_dir, name))
                  for name in SENTEVAL})
    return found


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def build_english_corpus(out: str | Path, data_dir: str | Path | None = None,
                         only: Iterable[str] | None = None,
                         log: Callable[[str], None] = _stderr) -> dict:
    """Write the pool to ``out`` (``train.txt``, ``valid.txt``, ``sources.json``) from all
    :func:`sources` or the ``only`` ones; returns the per-source counts."""
    data_dir = Path(data_dir or catalogue.data_dir())
    out = Path(out)
    chosen = sources(data_dir)
    unknown = sorted(set(only or ()) - set(chosen))
    if unknown:
        raise DataError(f"unknown source(s) {unknown}; expected some of {sorted(chosen)}")
    if only is not None:
        chosen = {name: documents for name, documents in chosen.items() if name in set(only)}
    out.mkdir(parents=True, exist_ok=True)
    held_out = held_out_texts(data_dir)
    seen: set[str] = set()
    counts: dict[str, dict] = {}
    temporary = out / "train.txt.partial"
    with open(temporary, "w", encoding="utf-8") as handle:
        for name, documents in chosen.items():
            row = counts[name] = {"documents": 0, "lines": 0, "held_out": 0, "repeats": 0,
                                  "words": 0}
            for document in documents():
                kept = []
                for line in document:
                    key = normalise(line)
                    if not key:
                        continue
                    if key in held_out:
                        row["held_out"] += 1
                    elif key in seen:
                        row["repeats"] += 1
                    else:
                        seen.add(key)
                        kept.append(line)
                if kept:
                    handle.write("\n".join(kept) + "\n\n")
                    row["documents"] += 1
                    row["lines"] += len(kept)
                    row["words"] += sum(len(line.split()) for line in kept)
            log(f"{name}: {row['lines']:,} lines, {row['words']:,} words "
                f"({row['held_out']:,} held-out and {row['repeats']:,} repeated lines dropped)")
    temporary.replace(out / "train.txt")
    shutil.copyfile(catalogue.resolve("wikitext-2", "valid"), out / "valid.txt")
    total = {key: sum(row[key] for row in counts.values())
             for key in ("documents", "lines", "held_out", "repeats", "words")}
    summary = {"sources": counts, "total": total, "valid": "wikitext-2 valid",
               "held_out_texts": len(held_out)}
    write_json(out / "sources.json", summary)
    return summary
