"""From a dataset name to token stores: split files, the tokenizer, cached stores.

``dataset`` is a catalogue name (``ptb``), a folder holding ``train.txt``/``valid.txt``/
``test.txt`` (or ``*.train.txt`` …), or a single text file. A single file, like a
catalogue entry with one file (tiny-shakespeare), is split by lines: the first 90% train,
then 5% valid and 5% test.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from lmlab.crosslingual.mixing import line_languages, mixed_folder
from lmlab.data import catalogue
from lmlab.data import unit_marks as marks_module
from lmlab.data.corpus import CorpusLine, iter_lines
from lmlab.data.token_store import TokenStore, store_key
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer, word_start_table
from lmlab.errors import DataError

SPLITS = ("train", "valid", "test")
_FRACTIONS = {"train": (0.0, 0.9), "valid": (0.9, 0.95), "test": (0.95, 1.0)}


def _is_path(dataset: str) -> bool:
    return "/" in dataset or dataset.startswith(".") or Path(dataset).exists()


def _split_file_in_folder(folder: Path, split: str) -> Path:
    names = {"valid": ("valid", "dev", "validation")}.get(split, (split,))
    for name in names:
        for pattern in (f"{name}.txt", f"*.{name}.txt", f"*{name}*.txt", f"{name}.txt.gz"):
            found = sorted(folder.glob(pattern))
            if found:
                return found[0]
    raise DataError(f"{folder}: no {split} file (looked for {names[0]}.txt, *.{names[0]}.txt)")


def _fraction_of_lines(path: Path, split: str, errors: str) -> Iterator[CorpusLine]:
    total = sum(1 for _ in iter_lines(path, errors=errors))
    start, stop = (int(total * f) for f in _FRACTIONS[split])
    for line in iter_lines(path, errors=errors):
        if start < line.line_number <= stop:
            yield line


def split_source(dataset: str, split: str) -> tuple[Path, bool]:
    """(file, whether the split is a line-range of that file)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    if _is_path(dataset):
        path = Path(dataset)
        if path.is_dir():
            return _split_file_in_folder(path, split), False
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        return path, True  # lines 0-90% train, 90-95% valid, 95-100% test
    entry = catalogue.get(dataset)
    if split in entry.splits:
        return catalogue.resolve(dataset, split), False
    return catalogue.resolve(dataset, next(iter(entry.splits))), True


def split_lines(dataset: str, split: str, errors: str = "strict") -> Iterator[CorpusLine]:
    path, by_fraction = split_source(dataset, split)
    if by_fraction:
        return _fraction_of_lines(path, split, errors)
    return iter_lines(path, errors=errors)


def split_file(dataset: str, split: str) -> Path:
    """A text file holding exactly one split, for tools that read files (the n-gram
    counter). A line-range split (tiny-shakespeare's valid = its last 5% of lines) is
    written once to the cache, atomically, keyed by the source file's size and mtime."""
    path, by_fraction = split_source(dataset, split)
    if not by_fraction:
        return path
    stat = path.stat()
    version = f"{stat.st_size}-{stat.st_mtime_ns}"
    target = catalogue.cache_dir() / "splits" / f"{dataset}.{split}.{version}.txt"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".tmp{os.getpid()}")
        with open(partial, "w", encoding="utf-8") as handle:
            for line in _fraction_of_lines(path, split, "strict"):
                handle.write(line.text + "\n")
        os.replace(partial, target)
    return target


def source_dataset(data_config) -> str:
    """``data.dataset``; for ``dataset: mix``, the cached folder of the language-sampled
    mix of ``data.datasets`` (:func:`lmlab.crosslingual.mixing.mixed_folder`)."""
    if data_config.dataset != "mix":
        return data_config.dataset
    errors = data_config.encoding_errors

    def present(name: str) -> list[str]:  # a corpus may lack a test file (wikitext-2 here)
        return [split for split in SPLITS if split == "train" or _has_split(name, split)]

    def read(name: str, split: str) -> list[str]:
        if split not in present(name):
            return []
        return [line.text for line in split_lines(name, split, errors)
                if line.text.strip() and not line.is_boundary]

    def identity(name: str) -> str:
        sources = [split_source(name, split) for split in present(name)]
        return "|".join(f"{path.resolve()}|{path.stat().st_size}|{path.stat().st_mtime_ns}|"
                        f"{by_fraction}|{errors}" for path, by_fraction in sources)

    return str(mixed_folder(data_config.datasets, data_config.language_alpha, read, identity))


def _has_split(dataset: str, split: str) -> bool:
    try:
        split_source(dataset, split)
    except DataError:
        return False
    return True


def dataset_defaults(dataset: str) -> tuple[str, str | None]:
    """(default tokenizer kind, the corpus's own unknown-word token)."""
    if _is_path(dataset):
        return "word", None
    entry = catalogue.get(dataset)
    return entry.default_tokenizer, entry.unk_token


def prepare_tokenizer(data_config) -> TextTokenizer:
    """The tokenizer trained on the train split. Subword tokenizers are cached (keyed by
    the file's identity and the tokenizer config), like token stores: HF's trainers break
    frequency ties in hash order, so retraining may give other pieces, and two runs of one
    config must tokenise alike."""
    dataset = source_dataset(data_config)
    kind, unk = dataset_defaults(dataset)
    if data_config.tokenizer.kind != "auto":
        kind = data_config.tokenizer.kind
    lines = (line.text for line in split_lines(dataset, "train", data_config.encoding_errors)
             if not line.is_boundary)
    path, by_fraction = split_source(dataset, "train")
    source = f"{path}{' (its train part)' if by_fraction else ''}"
    if kind not in ("bpe", "wordpiece", "unigram"):
        return train_tokenizer(lines, data_config.tokenizer, kind, unk, source)
    stat = path.stat()
    identity = (f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{by_fraction}|{kind}|{unk}|"
                f"{data_config.tokenizer}|{data_config.encoding_errors}"
                f"{'|split_cjk' if data_config.tokenizer.split_cjk else ''}")
    folder = (catalogue.cache_dir() / "tokenizers"
              / hashlib.sha256(identity.encode()).hexdigest()[:24])
    if (folder / "lmlab_tokenizer.json").exists():  # written last by save()
        return TextTokenizer.load(folder)
    tokenizer = train_tokenizer(lines, data_config.tokenizer, kind, unk, source)
    tokenizer.save(folder)
    return tokenizer


def token_store(data_config, tokenizer: TextTokenizer, split: str) -> TokenStore:
    """The (cached) token store of ``split``; built on first use."""
    dataset = source_dataset(data_config)
    path, by_fraction = split_source(dataset, split)
    key = store_key(path, tokenizer, extra=f"{split}|{by_fraction}|{data_config.encoding_errors}")
    folder = catalogue.cache_dir() / "token_stores" / key
    if (folder / "meta.json").exists():
        return TokenStore(folder)
    return TokenStore.build(split_lines(dataset, split, data_config.encoding_errors),
                            tokenizer, folder, f"{data_config.dataset}/{split} ({path})")


def unit_marks(data_config, objective_configs, tokenizer: TextTokenizer, split: str,
               store: TokenStore):
    """(N,) uint8 text-derived masking units of ``store`` (jieba words, ERNIE spans) when an
    objective config asks for them (``unit_source()``, part of every objective config),
    else None; built once beside the store (:mod:`lmlab.data.unit_marks`)."""
    sources = {o.unit_source() for o in objective_configs} - {None}
    if not sources:
        return None
    if len(sources) > 1:
        raise DataError(f"objectives ask for different masking units {sorted(sources)}; "
                        f"one run can use one")
    table = word_start_table(tokenizer)
    return marks_module.load_or_build(
        store, sources.pop(), tokenizer,
        split_lines(source_dataset(data_config), split, data_config.encoding_errors),
        None if table is None else table.numpy())


def token_languages(data_config, split: str, store: TokenStore) -> np.ndarray | None:
    """(N,) uint8 language id of every token of ``store`` (its line's corpus, ``<eos>``
    included) for ``dataset: mix``, else None: what XLM's language embeddings read on
    MLM/CLM batches (Lample & Conneau 2019, §3.1). Held in memory, one byte a token."""
    if data_config.dataset != "mix":
        return None
    ends = np.asarray(store.line_ends, dtype=np.int64)  # (lines,)
    per_line = line_languages(source_dataset(data_config), split, len(ends))
    return np.repeat(per_line, np.diff(ends, prepend=0))  # (N,)
