"""The WordNet 3.0 reader against the documented format (wndb(5WN)) and the real files."""

from __future__ import annotations

import pytest

from lmlab.errors import DataError
from lmlab.knowledge.lexnames import LEXNAMES
from lmlab.knowledge.wordnet import Pointer, load_wordnet, parse_data_line, wordnet_folder

# Two synsets as WordNet 3.0 writes them (data.noun), shortened to the pointers between them.
ENTITY = ("00001740 03 n 01 entity 0 001 ~ 00001930 n 0000 | that which is perceived or "
          "known or inferred to have its own distinct existence (living or nonliving)  ")
PHYSICAL = ("00001930 03 n 01 physical_entity 0 001 @ 00001740 n 0000 | an entity that has "
            "physical existence  ")
HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n"


def write_tiny_wordnet(folder, data_noun=None):
    folder.mkdir(exist_ok=True)
    lines = data_noun if data_noun is not None else [ENTITY, PHYSICAL]
    (folder / "data.noun").write_text(HEADER + "".join(line + "\n" for line in lines))
    (folder / "index.noun").write_text(HEADER + "entity n 1 1 ~ 1 1 00001740  \n"
                                       "physical_entity n 1 1 @ 1 0 00001930  \n")
    for suffix in ("verb", "adj", "adv"):
        (folder / f"data.{suffix}").write_text(HEADER)
        (folder / f"index.{suffix}").write_text(HEADER)
    return folder


def test_lexnames_are_the_45_published_ones():
    assert len(LEXNAMES) == 45
    assert (LEXNAMES[0], LEXNAMES[3], LEXNAMES[5], LEXNAMES[29], LEXNAMES[44]) == (
        "adj.all", "noun.Tops", "noun.animal", "verb.body", "adj.ppl")


def test_the_whole_of_wordnet_loads(wordnet):
    assert len(wordnet) == 117_659  # WordNet 3.0's synsets
    by_pos = {}
    for synset_id in wordnet.synsets:
        by_pos[synset_id[-1]] = by_pos.get(synset_id[-1], 0) + 1
    assert by_pos == {"n": 82_115, "v": 13_767, "a": 18_156, "r": 3_621}
    assert len(wordnet.index) == 117_798 + 11_529 + 21_479 + 4_481  # index.* lemma lines
    hypernyms = sum(p.relation == "hypernym" for s in wordnet.synsets.values()
                    for p in s.pointers)
    hyponyms = sum(p.relation == "hyponym" for s in wordnet.synsets.values() for p in s.pointers)
    assert hypernyms == hyponyms == 89_089  # every @ has its ~ back


def test_dog_n_01_against_its_raw_line(wordnet):
    # The offset is the line's byte position in data.noun (wndb(5WN)): read it raw.
    with open(wordnet_folder() / "data.noun", "rb") as handle:
        handle.seek(2084071)
        raw = handle.readline().decode().split()
    assert raw[:11] == ["02084071", "05", "n", "03", "dog", "0", "domestic_dog", "0",
                        "Canis_familiaris", "0", "023"]
    dog = wordnet.synset("02084071-n")
    assert dog.lemmas == ("dog", "domestic_dog", "Canis_familiaris")
    assert dog.ss_type == "n" and dog.lex_filenum == 5 and dog.lexname == "noun.animal"
    assert len(dog.pointers) == 23
    assert dog.pointers[:4] == (Pointer("hypernym", "02083346-n", 0, 0),
                                Pointer("hypernym", "01317541-n", 0, 0),
                                Pointer("member_holonym", "02083863-n", 0, 0),
                                Pointer("member_holonym", "07994941-n", 0, 0))
    assert [p.relation for p in dog.pointers].count("hyponym") == 18
    assert dog.pointers[-1] == Pointer("part_meronym", "02158846-n", 0, 0)
    assert dog.gloss.startswith("a member of the genus Canis")
    assert wordnet.name("02084071-n") == "dog.n.01"


def test_lexical_pointers_keep_their_words(wordnet):
    good = wordnet.synset("01123148-a")  # "! 01125429 a 0101": good's word 1 ↔ bad's word 1
    assert Pointer("antonym", "01125429-a", 1, 1) in good.pointers
    assert Pointer("derivation", "05142180-n", 1, 2) in good.pointers
    assert sum(p.relation == "similar_to" for p in good.pointers) == 9


def test_senses_in_frequency_order(wordnet):
    assert [wordnet.name(s.id) for s in wordnet.synsets_of("dog")] == [
        "dog.n.01", "frump.n.01", "dog.n.03", "cad.n.01", "frank.n.02", "pawl.n.01",
        "andiron.n.01", "chase.v.01"]
    assert [s.id for s in wordnet.synsets_of("Dog", pos="v")] == ["02001876-v"]
    assert wordnet.synsets_of("no_such_word_here") == []


def test_satellites_and_adjective_markers(wordnet):
    abounding = wordnet.synset("00014358-a")  # "s 02 abounding 0 galore(ip) 0"
    assert abounding.ss_type == "s" and abounding.lemmas == ("abounding", "galore")


def test_a_tiny_written_wordnet(tmp_path):
    wordnet = load_wordnet(write_tiny_wordnet(tmp_path / "wn"))
    assert len(wordnet) == 2
    assert wordnet.synset("00001930-n").pointers == (Pointer("hypernym", "00001740-n", 0, 0),)
    assert wordnet.synset("00001740-n").lexname == "noun.Tops"
    assert wordnet.name("00001930-n") == "physical_entity.n.01"


def test_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_WORDNET", str(tmp_path))
    assert wordnet_folder() == tmp_path
    assert wordnet_folder(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("LMLAB_WORDNET")
    assert str(wordnet_folder()) == "/usr/share/wordnet"


def test_a_missing_file_is_named(tmp_path):
    folder = write_tiny_wordnet(tmp_path / "wn")
    (folder / "index.adv").unlink()
    with pytest.raises(DataError, match=r"index\.adv: no such WordNet file.*wordnet-base"):
        load_wordnet(folder)


@pytest.mark.parametrize("line, reason", [
    ("00001740 03 n 01 entity", "too few fields"),
    ("00001740 77 n 01 entity 0 000 | x", "lex_filenum 77 is outside 0..44"),
    ("00001740 03 v 01 entity 0 000 | x", "ss_type 'v' does not belong in data.noun"),
    ("00001740 03 n 01 entity 0 001 ?? 00001930 n 0000 | x", "unknown pointer symbol"),
    ("00001740 03 n 01 entity 0 002 ~ 00001930 n 0000 | x", "1 words and 2 pointers announced, fewer given"),
])
def test_a_bad_line_is_named_with_its_number(tmp_path, line, reason):
    folder = write_tiny_wordnet(tmp_path / "wn", [PHYSICAL, line])
    with pytest.raises(DataError, match=rf"data\.noun, line 3: {reason}.*wndb"):
        load_wordnet(folder)


def test_a_pointer_to_nowhere_is_named(tmp_path):
    folder = write_tiny_wordnet(tmp_path / "wn", [ENTITY.replace("00001930", "00009999"),
                                                  PHYSICAL])
    with pytest.raises(DataError, match=r"data\.noun: synset 00001740 points to 00009999"):
        load_wordnet(folder)


def test_parse_data_line_reads_verb_frames_past_the_pointers():
    line = ("02001858 38 v 01 chase 0 001 @ 01835496 v 0000 01 + 08 00 | go after with the "
            "intent to catch")
    synset = parse_data_line(line, "v")
    assert synset.lemmas == ("chase",) and synset.lexname == "verb.motion"
    assert synset.pointers == (Pointer("hypernym", "01835496-v", 0, 0),)
