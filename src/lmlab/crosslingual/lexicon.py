"""A bilingual English -> Chinese word lexicon from the ``hsk-sentences-audio`` per-word
glosses, and word-by-word translation with it: the stand-in for machine translation in the
translate-train baseline (Conneau et al. 2018, XNLI §4.2: translate the English training
set, fine-tune on the translation) and in Unicoder's multi-language fine-tuning (Huang et
al. 2019 §3.5: fine-tune on the source data and its translation together).

**This is a lexicon translation, not MT**: no MT system is available offline. Every
English token is replaced by one Chinese word (no reordering, no word sense, no
morphology beyond a few suffix strips); tokens without an entry are dropped. The lexicon
reverses the glosses: each occurrence of a Chinese word in the 4,354 sentences votes for
every one-word English sense of its gloss (parentheticals and a leading ``to``/article
removed; surname, abbreviation, "used in" and "variant of" senses skipped), and an
English word maps to the Chinese word with the most votes (ties: the first in Unicode
order).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from lmlab.crosslingual.hsk import hsk_glosses

_PAREN = re.compile(r"\([^()]*\)")
_WORD = re.compile(r"^[a-z][a-z'-]*$")
_SKIP = ("surname", "used in", "abbr", "variant of", "see ", "short name", "old variant",
         "classifier", "erhua")
_LEADING = ("to ", "a ", "an ", "the ")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly")
"""Stripped, in this order, when a word has no entry of its own (``movies`` -> ``movie``)."""


def gloss_words(gloss: str) -> list[str]:
    """The one-word English senses of a gloss: ``"to ask; to invite"`` -> ``["ask",
    "invite"]``; ``"(pronoun) this"`` -> ``["this"]``; ``"surname Du"`` -> ``[]``."""
    words = []
    for sense in gloss.split(";"):
        sense = _PAREN.sub(" ", _PAREN.sub(" ", sense)).strip().lower()
        if not sense or sense.startswith(_SKIP):
            continue
        for lead in _LEADING:
            sense = sense.removeprefix(lead).strip()
        if _WORD.match(sense):
            words.append(sense)
    return words


def gloss_lexicon(records: list[list[tuple[str, str]]]) -> dict[str, str]:
    """English word -> the Chinese word whose occurrences gloss it most often.
    ``records``: per sentence, its (Chinese word, gloss) pairs (:func:`hsk.hsk_glosses`
    with ``all_senses``)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        for chinese, gloss in record:
            for english in gloss_words(gloss):
                votes[english][chinese] += 1
    return {english: min(counts, key=lambda zh: (-counts[zh], zh))
            for english, counts in votes.items()}


def hsk_lexicon() -> dict[str, str]:
    """:func:`gloss_lexicon` of the ``hsk-sentences-audio`` package (read when called)."""
    return gloss_lexicon(hsk_glosses(all_senses=True))


def lookup(word: str, lexicon: dict[str, str]) -> str | None:
    """The entry of ``word`` (lower-cased), else of ``word`` less one suffix (a stem of at
    least 3 letters), else None."""
    word = word.lower()
    if word in lexicon:
        return lexicon[word]
    for suffix in _SUFFIXES:
        stem = word[:-len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and stem in lexicon:  # not is -> i
            return lexicon[stem]
    return None


def translate_words(text: str, lexicon: dict[str, str]) -> str:
    """Word-by-word translation of whitespace-tokenized English (SST-2, RTE): every word
    with an entry becomes its Chinese word, tokens without letters (punctuation, numbers)
    are kept, the rest dropped; joined without spaces. An empty result is ``"。"`` so that
    every example keeps a text (and the translated file stays aligned with its source)."""
    out = []
    for token in text.split():
        if not re.search(r"[A-Za-z]", token):
            out.append(token)
        elif (chinese := lookup(token, lexicon)) is not None:
            out.append(chinese)
    return "".join(out) or "。"


def lexicon_coverage(texts: list[str], lexicon: dict[str, str]) -> dict:
    """Share of the word tokens (tokens with a letter) and word types of ``texts`` that
    :func:`lookup` translates, in percent."""
    tokens = [t for text in texts for t in text.split() if re.search(r"[A-Za-z]", t)]
    types = set(t.lower() for t in tokens)
    covered = sum(lookup(t, lexicon) is not None for t in tokens)
    covered_types = sum(lookup(t, lexicon) is not None for t in types)
    return {"entries": len(lexicon), "tokens": len(tokens), "covered_tokens": covered,
            "token_coverage": round(100 * covered / max(1, len(tokens)), 2),
            "types": len(types), "covered_types": covered_types,
            "type_coverage": round(100 * covered_types / max(1, len(types)), 2)}
