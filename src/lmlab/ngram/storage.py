"""A binary twin of the ARPA file (``model.npz``) so a run folder loads in a blink.

The ARPA file stays the reference; the ``.npz`` holds the same numbers (log10 values as
float32, as KenLM stores them) and the vocabulary. Loading never unpickles.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lmlab.errors import CheckpointError
from lmlab.ngram.model import NgramModel
from lmlab.ngram.vocab import Vocabulary


def save_npz(model: NgramModel, path: str | Path) -> Path:
    path = Path(path)
    arrays = {"vocab": np.array(model.vocab.words, dtype=np.str_)}
    for k in range(1, model.order + 1):
        arrays[f"first_word_{k}"] = model.first_word[k - 1].astype(np.int32)
        arrays[f"parent_{k}"] = model.parent[k - 1].astype(np.int32)
        arrays[f"log_prob_{k}"] = model.log_prob[k - 1].astype(np.float32)
        arrays[f"log_backoff_{k}"] = model.log_backoff[k - 1].astype(np.float32)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def load_npz(path: str | Path) -> NgramModel:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            vocab = Vocabulary([str(w) for w in data["vocab"]])
            order = sum(1 for name in data.files if name.startswith("first_word_"))
            size = len(vocab)
            first, parent, keys, prob, backoff = [], [], [], [], []
            for k in range(1, order + 1):
                first.append(data[f"first_word_{k}"].astype(np.int64))
                parent.append(data[f"parent_{k}"].astype(np.int64))
                keys.append(first[-1].copy() if k == 1 else parent[-1] * size + first[-1])
                prob.append(data[f"log_prob_{k}"].astype(np.float64))
                backoff.append(data[f"log_backoff_{k}"].astype(np.float64))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        reason = str(error) or "it ends early"
        raise CheckpointError(f"{path}: not a readable lmlab n-gram model ({reason}); expected "
                              f"the .npz 'lmlab ngram build' writes") from None
    return NgramModel(vocab, first, parent, keys, prob, backoff)
