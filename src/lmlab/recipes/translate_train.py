"""The source task's train and dev sets translated into the target language by the hsk
gloss lexicon (:mod:`lmlab.crosslingual.lexicon`): **a word-by-word lexicon translation,
not machine translation** (no MT system is available offline), read by the
translate-train baseline and Unicoder's multi-language fine-tuning
(:func:`lmlab.recipes.zero_shot.zero_shot`).

Each file is a TSV with a header (``text_a[, text_b], label``), the layout the CLUE
readers of ChnSentiCorp and XNLI read by column name, one row per source example in the
source's order (so a subset by index picks the translations of the same examples).
"""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.atomic import write_json, write_text
from lmlab.crosslingual.lexicon import hsk_lexicon, lexicon_coverage, translate_words
from lmlab.errors import ConfigError
from lmlab.tasks.catalogue import get_task


def translated_tsv(examples: list, lexicon: dict[str, str]) -> str:
    """The TSV text of ``examples`` (TextExample) translated word by word."""
    pairs = any(e.text_b is not None for e in examples)
    lines = ["text_a\ttext_b\tlabel" if pairs else "text_a\tlabel"]
    for e in examples:
        texts = [translate_words(e.text_a, lexicon)]
        if pairs:
            texts.append(translate_words(e.text_b or "", lexicon))
        lines.append("\t".join(texts + [str(e.label)]))
    return "\n".join(lines) + "\n"


def translate_task(source: str, folder: str | Path, splits: tuple[str, str] = ("train", "dev"),
                   lexicon: dict[str, str] | None = None) -> dict:
    """Write ``folder/<split>.tsv`` for the ``splits`` of ``source`` (kept if present) and
    ``folder/coverage.json`` (the lexicon's coverage of the source train tokens);
    returns ``{"train": path, "dev": path, "coverage": {...}}``."""
    spec = get_task(source)
    if spec.kind != "classification" or spec.language != "en":
        raise ConfigError(f"translate-train: {source} must be an English classification task "
                          f"(the lexicon translates English words into Chinese)")
    folder = Path(folder)
    paths = {split: folder / f"{split.split('[')[0]}.tsv" for split in splits}
    coverage_file = folder / "coverage.json"
    if not coverage_file.exists() or not all(p.exists() for p in paths.values()):
        lexicon = lexicon if lexicon is not None else hsk_lexicon()
        for split, path in paths.items():
            write_text(path, translated_tsv(spec.read(split), lexicon))
        train = spec.read(splits[0])
        texts = [e.text_a for e in train] + [e.text_b for e in train if e.text_b]
        write_json(coverage_file, {"source": f"{source}/{splits[0]}",
                                   "lexicon": "hsk-sentences-audio glosses, reversed",
                                   **lexicon_coverage(texts, lexicon)})
    return {"train": str(paths[splits[0]]), "dev": str(paths[splits[1]]),
            "coverage": json.loads(coverage_file.read_text())}
