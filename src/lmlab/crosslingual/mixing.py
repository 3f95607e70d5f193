"""A multilingual corpus mixed by language sampling (XLM, Lample & Conneau 2019, §3.1).

``data: {dataset: mix, datasets: [{name, language}], language_alpha}`` names the corpora;
their train splits are resampled to q_i = p_i^α / Σ_j p_j^α of the total (sizes counted
in non-blank lines; :mod:`lmlab.crosslingual.sampling`), shuffled together, and written
once as ``train.txt`` of a cached folder; ``valid.txt``/``test.txt`` are the corpora's own
held-out splits concatenated, not resampled (a corpus without a test file adds none). The rest of the data path (tokenizer, token
store, batching) reads that folder like any other dataset. Beside each split,
``<split>.languages`` holds the language id of each of its lines (uint8, one a line), which
:func:`line_languages` reads so that MLM/CLM batches carry per-token language ids for XLM's
language embeddings (§3.1: every stream, not only TLM's, gets them).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from lmlab.crosslingual.sampling import language_probabilities, resample_sources
from lmlab.data.catalogue import cache_dir
from lmlab.errors import DataError

MIX_SEED = 0


def mixed_folder(datasets: list, alpha: float, read: Callable[[str, str], list[str]],
                 identity: Callable[[str], str]) -> Path:
    """The cached folder (train/valid/test.txt, mix.json) of the language-sampled mix of
    ``datasets`` (``MixedCorpus``: ``name``, ``language``).
    ``read(name, split)``: a corpus split's non-blank lines; ``identity(name)``: what
    changes when its files change (the cache key). Both come from
    :mod:`lmlab.data.lm_data`, which reads datasets."""
    key = "\n".join([*(f"{identity(e.name)}|{e.language}" for e in datasets),
                     f"{alpha}|{MIX_SEED}"])
    folder = cache_dir() / "mixes" / hashlib.sha256(key.encode()).hexdigest()[:24]
    if (folder / "mix.json").exists() and all(_languages_file(folder, split).exists()
                                              for split in SPLITS):  # written last
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    train = [read(entry.name, "train") for entry in datasets]
    sources = resample_sources([len(lines) for lines in train], alpha, MIX_SEED)
    splits = {"train": [train[c][i] for c, i in sources]}
    languages = {"train": [datasets[c].language for c, _ in sources]}
    for split in ("valid", "test"):
        held_out = [read(entry.name, split) for entry in datasets]
        splits[split] = [line for lines in held_out for line in lines]
        languages[split] = [e.language for e, lines in zip(datasets, held_out) for _ in lines]
    for split, lines in splits.items():
        _replace(folder / f"{split}.txt", "".join(line + "\n" for line in lines).encode("utf-8"))
        # An older cache has the text already (same content): only the ids are added.
        _replace(_languages_file(folder, split), np.asarray(languages[split], np.uint8).tobytes())
    sizes = [len(lines) for lines in train]
    meta = {"datasets": [{"name": e.name, "language": e.language} for e in datasets], "alpha": alpha, "train_lines": sizes,
            "probabilities": language_probabilities(sizes, alpha).tolist()}
    (folder / "mix.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder


SPLITS = ("train", "valid", "test")


def _languages_file(folder: Path, split: str) -> Path:
    return folder / f"{split}.languages"


def _replace(path: Path, data: bytes) -> None:
    if path.exists() and path.suffix == ".txt" and path.read_bytes() == data:
        return  # keep its mtime: token stores and tokenizers are keyed by it
    partial = path.with_name(f"{path.name}.tmp{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, path)


def line_languages(folder: str | Path, split: str, num_lines: int) -> np.ndarray:
    """(num_lines,) uint8 language id of each line of a mixed folder's ``split``; a count
    that disagrees with the split's ``num_lines`` is an error naming the file."""
    path = _languages_file(Path(folder), split)
    if not path.exists():
        raise DataError(f"{path}: no language ids for the mix's {split} split; delete "
                        f"{Path(folder)} to rebuild the mix")
    ids = np.fromfile(path, dtype=np.uint8)
    if len(ids) != num_lines:
        raise DataError(f"{path}: {len(ids)} language ids for {num_lines} lines of "
                        f"{split}.txt; delete {Path(folder)} to rebuild the mix")
    return ids
