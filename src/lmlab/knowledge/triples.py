"""Knowledge-graph triples (head, relation, tail) from WordNet, or from a TSV file.

The entities are synset ids ("02084071-n"); a lexical pointer (antonym, derivation: between
two words of two synsets) becomes a triple between the two synsets, as in WN18 (Bordes et
al. 2013, §4.1). The relation names are the fixed vocabulary of
:data:`lmlab.knowledge.wordnet.POINTER_SYMBOLS`; any other name is a one-line error.

The default set keeps one direction of each inverse pair (hypernym but not hyponym,
meronyms but not holonyms), as WN18RR does (Dettmers et al. 2018), so that a held-out
triple's inverse is not in the training set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmlab.errors import ConfigError, DataError
from lmlab.knowledge.wordnet import POINTER_SYMBOLS, WordNet

RELATION_NAMES: tuple[str, ...] = tuple(POINTER_SYMBOLS.values())
DEFAULT_RELATIONS: tuple[str, ...] = (
    "hypernym", "part_meronym", "member_meronym", "antonym", "similar_to", "derivation")
"""Issue 21's relations (hypernym, part-of, antonym, similar-to, derivation) without the
inverse directions (hyponym, holonyms) that would leak held-out triples."""


@dataclass(frozen=True)
class Triple:
    head: str
    relation: str
    tail: str


def check_relations(relations, where: str = "--relations") -> tuple[str, ...]:
    """The names, each one of RELATION_NAMES (else a ConfigError naming ``where``)."""
    relations = tuple(relations)
    for name in relations:
        if name not in RELATION_NAMES:
            raise ConfigError(f"{where}: unknown relation {name!r}; expected one of "
                              f"{', '.join(RELATION_NAMES)}")
    if not relations:
        raise ConfigError(f"{where}: no relation given; expected one or more of "
                          f"{', '.join(RELATION_NAMES)}")
    return relations


def wordnet_triples(wordnet: WordNet, relations=DEFAULT_RELATIONS) -> list[Triple]:
    """Every pointer of a chosen relation as a synset-level triple, once each, in file
    order (nouns, verbs, adjectives, adverbs; pointers as listed)."""
    wanted = set(check_relations(relations))
    seen: set[Triple] = set()
    triples = []
    for synset in wordnet.synsets.values():
        for pointer in synset.pointers:
            if pointer.relation in wanted:
                triple = Triple(synset.id, pointer.relation, pointer.target)
                if triple not in seen and triple.head != triple.tail:
                    seen.add(triple)
                    triples.append(triple)
    return triples


def read_triples(path: str | Path, entities: set[str] | None = None) -> list[Triple]:
    """A ``head<TAB>relation<TAB>tail`` file, one triple a line; a line with another shape,
    an unknown relation, or (given ``entities``) an unknown entity is a DataError naming
    the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such triples file")
    triples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 3 or not all(fields):
                raise DataError(f"{path}, line {number}: expected head<TAB>relation<TAB>tail, "
                                f"got {len(fields)} field(s)")
            head, relation, tail = fields
            if relation not in RELATION_NAMES:
                raise DataError(f"{path}, line {number}: unknown relation {relation!r}; "
                                f"expected one of {', '.join(RELATION_NAMES)}")
            for entity in (head, tail):
                if entities is not None and entity not in entities:
                    raise DataError(f"{path}, line {number}: unknown entity {entity!r}")
            triples.append(Triple(head, relation, tail))
    if not triples:
        raise DataError(f"{path}: no triples; expected head<TAB>relation<TAB>tail lines")
    return triples


def split_triples(triples: list[Triple], held_out: float = 0.05,
                  seed: int = 21) -> tuple[list[Triple], list[Triple]]:
    """(train, held-out): a seeded ``held_out`` fraction (at least one triple) set aside,
    each part in the input order. As in WN18 (Bordes et al. 2013, §4.1) every entity of a
    held-out triple keeps a training triple: triples are visited in a seeded random order
    and one is held out only while both its entities still have another; when fewer than
    the fraction qualify, fewer are held out."""
    if not 0 < held_out < 1:
        raise ConfigError(f"--held-out: expected a fraction in (0, 1); got {held_out:g}")
    wanted = max(1, round(held_out * len(triples)))
    degree: dict[str, int] = {}
    for triple in triples:
        for entity in {triple.head, triple.tail}:
            degree[entity] = degree.get(entity, 0) + 1
    chosen = np.zeros(len(triples), dtype=bool)
    count = 0
    for index in np.random.default_rng(seed).permutation(len(triples)):
        if count == wanted:
            break
        entities = {triples[index].head, triples[index].tail}
        if all(degree[entity] > 1 for entity in entities):
            chosen[index] = True
            count += 1
            for entity in entities:
                degree[entity] -= 1
    train = [t for t, out in zip(triples, chosen) if not out]
    test = [t for t, out in zip(triples, chosen) if out]
    return train, test
