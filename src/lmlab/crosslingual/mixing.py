"""A multilingual corpus mixed by language sampling (XLM, Lample & Conneau 2019, §3.1).

``data: {dataset: mix, datasets: [{name, language}], language_alpha}`` names the corpora;
their train splits are resampled to q_i = p_i^α / Σ_j p_j^α of the total (sizes counted
in non-blank lines; :mod:`lmlab.crosslingual.sampling`), shuffled together, and written
once as ``train.txt`` of a cached folder; ``valid.txt``/``test.txt`` are the corpora's own
held-out splits concatenated, not resampled (a corpus without a test file adds none). The rest of the data path (tokenizer, token
store, batching) reads that folder like any other dataset. What is not kept: which
language a token came from (the MLM stream carries no language ids).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from lmlab.crosslingual.sampling import language_probabilities, resample_lines
from lmlab.data.catalogue import cache_dir

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
    if (folder / "mix.json").exists():  # written last
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    train = [read(entry.name, "train") for entry in datasets]
    splits = {"train": resample_lines(train, alpha, MIX_SEED)}
    for split in ("valid", "test"):
        splits[split] = [line for entry in datasets for line in read(entry.name, split)]
    for split, lines in splits.items():
        partial = folder / f"{split}.txt.tmp{os.getpid()}"
        partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(partial, folder / f"{split}.txt")
    sizes = [len(lines) for lines in train]
    meta = {"datasets": [{"name": e.name, "language": e.language} for e in datasets], "alpha": alpha, "train_lines": sizes,
            "probabilities": language_probabilities(sizes, alpha).tolist()}
    (folder / "mix.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder
