"""Synset embeddings from WordNet glosses, KnowBERT's other entity source (Peters et al.
2019, "Knowledge Enhanced Contextual Word Representations", §4.1: WordNet synsets are
embedded from their glosses as well as from the graph).

lmlab's choice of gloss encoder (not the paper's): the mean of the word2vec vectors
(Mikolov et al. 2013; an ``lmlab embed train`` run) of the words of the synset's
definition, scaled to unit L2 norm, the norm TransE's entities have (Bordes et al. 2013,
Algorithm 1)::

    e_s = v̄ / ||v̄||₂,   v̄ = (1 / |G_s|) Σ_{w ∈ G_s} vec(w)

G_s is the definition's words found in the word vectors, repeats counted. The definition
is the gloss before its first quoted example (``dog.n.01``: "a member of the genus Canis
... breeds"); words are the lower-cased runs of letters and digits, matched to the
vectors case-insensitively (the most frequent spelling wins, as vectors are stored by
count). A synset none of whose definition words has a vector gets the zero vector
(``gloss.json`` counts them); KnowBERT's linker then reads only its prior.

The folder has TransE's layout (``embeddings.safetensors``, ``entities.txt``, an empty
``relations.txt``; :mod:`lmlab.knowledge.embedding_files`) plus ``gloss.json``, so
``model.encoder.knowledge.entities`` takes it like a TransE folder; ``entities: gloss``
reads the one ``lmlab knowledge gloss`` keeps in the cache (:func:`gloss_cache_folder`).
"""

from __future__ import annotations

import re

import numpy as np
import torch

from lmlab.data.catalogue import cache_dir
from lmlab.knowledge.embedding_files import Embeddings
from lmlab.knowledge.wordnet import WordNet

GLOSS = "gloss"
WORD = re.compile(r"[a-z0-9]+")


def gloss_cache_folder():
    """Where ``lmlab knowledge gloss`` keeps the table that ``entities: gloss`` reads."""
    return cache_dir() / "gloss-wordnet"


def definition_words(gloss: str) -> list[str]:
    """The lower-cased words of a gloss's definition (the text before its first quoted
    example): 'barks; "the dog barked"' -> ["barks"]."""
    definition = gloss.split('"', 1)[0]
    return WORD.findall(definition.lower())


def word_lookup(words: list[str]) -> dict[str, int]:
    """Lower-cased word -> row of its first (most frequent) spelling in ``words``."""
    lookup: dict[str, int] = {}
    for row, word in enumerate(words):
        lookup.setdefault(word.lower(), row)
    return lookup


def gloss_vector(gloss: str, lookup: dict[str, int], vectors: np.ndarray) -> np.ndarray | None:
    """e_s of one gloss (module docstring), or None when no definition word has a vector."""
    rows = [lookup[w] for w in definition_words(gloss) if w in lookup]
    if not rows:
        return None
    mean = vectors[rows].mean(axis=0)  # (D,)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def gloss_embeddings(wordnet: WordNet, words: list[str],
                     vectors: np.ndarray) -> tuple[Embeddings, dict]:
    """(every synset's gloss vector, sorted by synset id; counts for gloss.json).
    words: the word vectors' vocabulary, vectors (V, D)."""
    lookup = word_lookup(words)
    names = sorted(wordnet.synsets)
    table = np.zeros((len(names), vectors.shape[1]), dtype=np.float32)  # (N, D)
    empty = 0
    for row, name in enumerate(names):
        vector = gloss_vector(wordnet.synsets[name].gloss, lookup, vectors)
        if vector is None:
            empty += 1
        else:
            table[row] = vector
    embeddings = Embeddings(names, [], torch.from_numpy(table),
                            torch.zeros(0, vectors.shape[1]))
    return embeddings, {"synsets": len(names), "without_vector": empty,
                        "dim": int(vectors.shape[1]), "vocabulary": len(words)}
