"""The entity embeddings a knowledge encoder reads (ERNIE-THU, KnowBERT): a folder written
by ``lmlab knowledge transe``, or ``auto``: a small TransE on WordNet's graph, trained on
first use and kept under the cache folder (``$LMLAB_CACHE``), so a preset needs no step
before ``lmlab train``.

``auto`` is :data:`AUTO_SETTINGS` (50 dimensions, L1, Adagrad, 3 epochs: about 15 s on one
CPU thread); its link-prediction scores are in the folder's ``transe.json``. A longer
``lmlab knowledge transe --epochs 40`` run (docs/knowledge.md) is the one to use for
measurements: name its folder in ``model.encoder.knowledge.entities``.

``transe`` is another name for ``auto``. ``gloss`` reads the synset vectors that
``lmlab knowledge gloss`` built from WordNet's glosses and keeps in the cache
(:mod:`lmlab.knowledge.gloss_embeddings`; KnowBERT's gloss embeddings). It is not built
here: its word vectors come from ``lmlab embed train``, a corner the model's parts do not
import (DESIGN §2).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import torch

from lmlab.data.catalogue import cache_dir
from lmlab.errors import DataError
from lmlab.knowledge.embedding_files import TENSORS, Embeddings, load_embeddings
from lmlab.knowledge.gloss_embeddings import GLOSS, gloss_cache_folder
from lmlab.knowledge.transe_run import TransESettings, run_transe
from lmlab.knowledge.wordnet import wordnet_folder

AUTO = "auto"
TRANSE = "transe"  # the same as auto
AUTO_SETTINGS = TransESettings(dim=50, epochs=3, eval_triples=200)


def auto_folder() -> Path:
    settings = AUTO_SETTINGS
    return cache_dir() / f"transe-wordnet-{settings.dim}d-{settings.epochs}e-s{settings.seed}"


def build_auto(wordnet: str = "", log=None) -> Path:
    """The ``auto`` folder, trained now if it is not there yet (written to a temporary
    sibling and renamed, so a killed build leaves nothing half-written)."""
    folder = auto_folder()
    if (folder / TENSORS).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".transe-"))
    try:
        # Built inside build_model, after its seed: leave the global RNG as it was, so a
        # run that trains the cache draws the same initial weights as one that reads it.
        with torch.random.fork_rng():
            run_transe(temporary, AUTO_SETTINGS, wordnet_folder(wordnet or None),
                       log=log or (lambda *_: None))
        try:
            os.replace(temporary, folder)
        except OSError:  # another process finished first: keep its folder
            if not (folder / TENSORS).is_file():
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return folder


@lru_cache(maxsize=2)
def entity_embeddings(entities: str, wordnet: str = "") -> Embeddings:
    """The embeddings named by ``model.encoder.knowledge.entities`` (one per process)."""
    if entities in (AUTO, TRANSE):
        return load_embeddings(build_auto(wordnet))
    if entities == GLOSS:
        folder = gloss_cache_folder()
        if not (folder / TENSORS).is_file():
            raise DataError(f"model.encoder.knowledge.entities: gloss: no gloss table in "
                            f"{folder}; build it with 'lmlab knowledge gloss --vectors RUN' "
                            f"(RUN: word vectors of 'lmlab embed train')")
        return load_embeddings(folder)
    folder = Path(entities).expanduser()
    if not folder.is_dir():
        raise DataError(f"model.encoder.knowledge.entities: {folder}: no such TransE folder "
                        f"(expected the output of 'lmlab knowledge transe' or 'lmlab knowledge gloss', "
                        f"or auto | transe | gloss)")
    return load_embeddings(folder)
