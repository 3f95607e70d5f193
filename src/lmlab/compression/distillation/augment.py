"""Tang et al. 2019 ("Distilling Task-Specific Knowledge from BERT into Simple Neural
Networks") §3.3: data augmentation for distillation. The teacher labels the synthetic
sentences, so they need no gold label. Per word w_i draw X_i ~ U[0, 1]:

- masking: X_i < p_mask                 -> the mask token ("[MASK]");
- POS-guided replacement: p_mask <= X_i < p_mask + p_pos -> a word drawn from the unigram
  distribution (over the training text) of the words with w_i's part-of-speech tag;
- otherwise w_i is kept (the rules are exclusive, in this order).

Then, with probability p_ng, n-gram sampling: n ~ U{1, .., max_ngram} and a random window
of n words of the result is kept, the rest dropped. Each example is augmented ``n_iter``
times; duplicates (and copies of the original) are dropped (SST-2: p_mask = p_pos = 0.1,
p_ng = 0.25, n_iter = 20).

Tags: Tang et al. tag their words with a POS tagger; here a word's tag is its most frequent
tag in the NLTK Penn Treebank sample (``nltk_data/corpora/treebank.zip``, 100,676 tagged
words), lower-cased. A word the treebank never tagged has no tag and is never replaced
(and never drawn); ``pos_lexicon`` takes any (word, tag) pairs, so another tagged corpus
can stand in.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import ConfigError, DataError


@dataclass(frozen=True)
class AugmentSettings:
    p_mask: float = 0.1
    """Probability that a word becomes the mask token."""
    p_pos: float = 0.1
    """Probability that a word is replaced by a word of the same POS tag."""
    p_ngram: float = 0.25
    """Probability that the sample is cut to a random n-gram."""
    max_ngram: int = 5
    """n of the n-gram sampling is drawn from 1..max_ngram."""
    n_iter: int = 20
    """Samples drawn per example (before duplicates are dropped)."""
    mask_token: str = "[MASK]"

    def validate(self) -> None:
        for name in ("p_mask", "p_pos", "p_ngram"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"--set {name}={getattr(self, name)}: must be in [0, 1]")
        if self.p_mask + self.p_pos > 1:
            raise ConfigError(f"--set p_mask={self.p_mask}, p_pos={self.p_pos}: their sum "
                              f"must be <= 1 (the rules share one draw per word)")
        if not isinstance(self.max_ngram, int) or self.max_ngram < 1:
            raise ConfigError(f"--set max_ngram={self.max_ngram}: must be an integer >= 1")
        if not isinstance(self.n_iter, int) or self.n_iter < 0:
            raise ConfigError(f"--set n_iter={self.n_iter}: must be an integer >= 0")


def pos_lexicon(tagged_words) -> dict[str, str]:
    """word (lower-cased) -> its most frequent tag in ``tagged_words`` ((word, tag) pairs);
    ties go to the tag seen first. Treebank traces (tag ``-NONE-``) are left out."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for word, tag in tagged_words:
        if tag != "-NONE-":
            counts[word.lower()][tag] += 1
    return {word: tags.most_common(1)[0][0] for word, tags in counts.items()}


def treebank_lexicon(data_dir) -> dict[str, str]:
    """:func:`pos_lexicon` of the NLTK Penn Treebank sample under ``data_dir/nltk_data``;
    a one-line DataError when it is missing."""
    root = Path(data_dir) / "nltk_data"
    if not (root / "corpora" / "treebank.zip").exists():
        raise DataError(f"{root}/corpora/treebank.zip: missing; Tang et al.'s POS-guided "
                        f"replacement needs the NLTK treebank sample (or --set p_pos=0)")
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    from nltk.corpus import treebank

    return pos_lexicon(treebank.tagged_words())


def tag_pools(sentences: list[list[str]], lexicon: dict[str, str]) -> dict[str, tuple]:
    """tag -> (words, counts): the unigram distribution of the tagged words of
    ``sentences`` (the training text), words in first-seen order (deterministic draws)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for words in sentences:
        for word in words:
            tag = lexicon.get(word.lower())
            if tag is not None:
                counts[tag][word] += 1
    return {tag: (list(words), list(words.values())) for tag, words in counts.items()}


def augment_words(words: list[str], rng: random.Random, settings: AugmentSettings,
                  lexicon: dict[str, str], pools: dict[str, tuple]) -> list[str]:
    """One synthetic sample of ``words`` (Tang et al. §3.3): masking, POS-guided
    replacement, then n-gram sampling; ``rng`` draws in this order: one ``random()`` per
    word (plus one ``choices`` per replaced word), one ``random()`` for the n-gram rule and,
    when it fires, ``randint`` for n and ``randrange`` for the window's start."""
    out = []
    for word in words:
        x = rng.random()
        if x < settings.p_mask:
            out.append(settings.mask_token)
        elif x < settings.p_mask + settings.p_pos and lexicon.get(word.lower()) in pools:
            candidates, weights = pools[lexicon[word.lower()]]
            out.append(rng.choices(candidates, weights)[0])
        else:
            out.append(word)
    if out and rng.random() < settings.p_ngram:
        n = min(rng.randint(1, settings.max_ngram), len(out))
        start = rng.randrange(len(out) - n + 1)
        out = out[start:start + n]
    return out


def augment_texts(texts: tuple[str, ...], rng: random.Random, settings: AugmentSettings,
                  lexicon: dict[str, str], pools: dict[str, tuple]) -> list[tuple[str, ...]]:
    """The distinct synthetic versions of an example's texts (one sentence, or a pair
    augmented together, each by :func:`augment_words` on its whitespace words) from
    ``n_iter`` samples, in the order drawn; the original and repeats dropped."""
    words = [text.split() for text in texts]
    seen, samples = {tuple(" ".join(w) for w in words)}, []
    for _ in range(settings.n_iter):
        sample = tuple(" ".join(augment_words(w, rng, settings, lexicon, pools)) for w in words)
        if all(sample) and sample not in seen:
            seen.add(sample)
            samples.append(sample)
    return samples
