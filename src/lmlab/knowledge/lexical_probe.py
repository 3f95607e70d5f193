"""The lexical probe's data (issue 21): hypernymy detection pairs from WordNet, split by
synset so that no test pair's words occur in any training pair.

Classifiers of word pairs learn "prototypical hypernyms" (Levy et al. 2015, "Do Supervised
Distributional Methods Really Learn Lexical Inference Relations?"): seen "animal" as a
hypernym once, call every (x, animal) a positive. A lexical split removes that shortcut:

1. positives are (hyponym, hypernym) word pairs, each from the hyponym's synset (the
   first synset in id order that gives the pair);
2. a seeded ``test_fraction`` of those synsets goes to test; their pairs are the test
   positives and their words the test words;
3. a training positive with any test word is dropped. Hypernyms are shared words
   ("person", "act"), so each test synset costs many training pairs: on the PTB
   vocabulary a 5% test share keeps 5,163 training positives beside 1,144 test ones, a
   20% share only 596 beside 4,444.

Each positive (a, b) gets two negatives from its own side's words: the reversed pair
(b, a) (the direction matters) and (a, c) with c a seeded random word of that side
that is not a direct hypernym of a in WordNet (either way round). Labels: 1 / 0. Only
direct hypernyms count: a random (dog, animal) would be a negative.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lmlab.knowledge.lexical_pairs import HYPERNYM_POINTERS, _words_in
from lmlab.knowledge.wordnet import WordNet


@dataclass(frozen=True)
class ProbeSplit:
    train: list[tuple[str, str, int]]  # (word a, word b, label 1 = a's hypernym is b)
    test: list[tuple[str, str, int]]


def hypernym_pairs_by_synset(wordnet: WordNet, vocabulary) -> dict[str, list[tuple[str, str]]]:
    """Synset id -> its sorted (hyponym, hypernym) word pairs; each pair under one synset
    (the first in id order); only one-token words of ``vocabulary`` (lower case)."""
    known = {token.lower() for token in vocabulary}
    seen: set[tuple[str, str]] = set()
    by_synset: dict[str, list[tuple[str, str]]] = {}
    for synset_id in sorted(wordnet.synsets):
        synset = wordnet.synsets[synset_id]
        lower_words = _words_in(synset, known)
        pairs = set()
        for pointer in synset.pointers if lower_words else ():
            if pointer.relation in HYPERNYM_POINTERS:
                for upper in _words_in(wordnet.synset(pointer.target), known):
                    pairs.update((lower, upper) for lower in lower_words if lower != upper)
        fresh = sorted(pairs - seen)
        if fresh:
            seen.update(fresh)
            by_synset[synset_id] = fresh
    return by_synset


def _with_negatives(positives: list[tuple[str, str]], forbidden: set[tuple[str, str]],
                    rng: random.Random) -> list[tuple[str, str, int]]:
    words = sorted({w for pair in positives for w in pair})
    rows = []
    for a, b in positives:
        rows.append((a, b, 1))
        if (b, a) not in forbidden:
            rows.append((b, a, 0))
        for _ in range(20):  # a few tries for a random non-hypernym
            c = rng.choice(words)
            if c not in (a, b) and (a, c) not in forbidden and (c, a) not in forbidden:
                rows.append((a, c, 0))
                break
    return rows


def probe_split(by_synset: dict[str, list[tuple[str, str]]], test_fraction: float = 0.05,
                seed: int = 0) -> ProbeSplit:
    """The lexical split of the module docstring, seeded."""
    rng = random.Random(seed)
    synsets = sorted(by_synset)
    test_synsets = set(rng.sample(synsets, round(test_fraction * len(synsets))))
    test_positives = sorted({p for s in test_synsets for p in by_synset[s]})
    test_words = {w for pair in test_positives for w in pair}
    train_positives = sorted({p for s in synsets if s not in test_synsets
                              for p in by_synset[s] if not test_words & set(p)})
    every_positive = {p for pairs in by_synset.values() for p in pairs}  # dropped ones too
    return ProbeSplit(_with_negatives(train_positives, every_positive, rng),
                      _with_negatives(test_positives, every_positive, rng))
