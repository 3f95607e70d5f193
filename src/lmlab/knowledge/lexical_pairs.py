"""Word pairs in a lexical relation, read from WordNet: LIBERT's constraints (Lauscher et al.
2020, "Specializing Unsupervised Pretraining Models for Word-Level Semantic Similarity",
§3.1) and the positives of the lexical probe.

* synonyms: two lemmas of one synset ("car", "automobile");
* hypernymy: a lemma of a synset and a lemma of one of its (instance) hypernyms, in the
  order (hyponym, hypernym) ("dog", "canine").

Only single words that the vocabulary holds as one token are kept (LIBERT feeds
"[CLS] w1 [SEP] w2 [SEP]"; a word split into pieces would need pooling), matched in lower
case. Pairs are returned sorted, so every run sees the same list for a vocabulary.
"""

from __future__ import annotations

from functools import lru_cache

from lmlab.knowledge.wordnet import WordNet, load_wordnet, normalise_lemma, wordnet_folder

RELATIONS = ("synonym", "hypernym")
HYPERNYM_POINTERS = ("hypernym", "instance_hypernym")


@lru_cache(maxsize=1)
def cached_wordnet(folder: str = "") -> WordNet:
    """One WordNet per process (about 2 s to read): ``folder``, else the default place."""
    return load_wordnet(wordnet_folder(folder or None))


def _words_in(synset, vocabulary: set[str]) -> list[str]:
    """The synset's one-word lemmas that the vocabulary holds, in lemma order, once each."""
    words = []
    for lemma in synset.lemmas:
        word = normalise_lemma(lemma)
        if "_" not in word and word in vocabulary and word not in words:
            words.append(word)
    return words


def lexical_pairs(wordnet: WordNet, vocabulary, relations=RELATIONS) -> list[tuple[str, str, str]]:
    """Sorted, distinct (word_a, word_b, relation) triples with both words in ``vocabulary``.

    Synonym pairs are unordered (stored with word_a < word_b); hypernym pairs are (hyponym,
    hypernym). A pair that is both keeps both relations as two rows; a word is never
    paired with itself."""
    unknown = [r for r in relations if r not in RELATIONS]
    if unknown:
        raise ValueError(f"unknown lexical relation(s) {unknown}; known: {list(RELATIONS)}")
    known = {token.lower() for token in vocabulary}
    pairs: set[tuple[str, str, str]] = set()
    for synset in wordnet.synsets.values():
        words = _words_in(synset, known)
        if not words:
            continue
        if "synonym" in relations:
            for i, a in enumerate(words):
                for b in words[i + 1:]:
                    pairs.add((min(a, b), max(a, b), "synonym"))
        if "hypernym" in relations:
            for pointer in synset.pointers:
                if pointer.relation not in HYPERNYM_POINTERS:
                    continue
                for upper in _words_in(wordnet.synset(pointer.target), known):
                    for lower in words:
                        if lower != upper:
                            pairs.add((lower, upper, "hypernym"))
    return sorted(pairs)
