"""The English pre-training pool: deduplicated against dev/test text, counts per source."""

import json

import pytest

from lmlab.data.english_corpus import build_english_corpus, held_out_texts, normalise
from lmlab.errors import DataError


def test_normalise_keeps_lower_case_letters_and_digits():
    assert normalise("Don't  stop -- 2 Believin'!") == "dontstop2believin"
    assert normalise("it ' s") == normalise("It's")


def test_held_out_texts_reads_every_field_of_dev_and_test_files(tmp_path):
    (tmp_path / "glue" / "RTE").mkdir(parents=True)
    (tmp_path / "glue" / "RTE" / "dev.tsv").write_text(
        "index\tsentence1\tsentence2\tlabel\n0\tA cat sat.\tThe cat sat down.\tentailment\n")
    (tmp_path / "glue" / "RTE" / "train.tsv").write_text("0\tTrain text here\tx\ty\n")
    (tmp_path / "ag_news").mkdir()
    (tmp_path / "ag_news" / "test.csv").write_text('label,title,description\n3,"Wall St.","Bears claw back"\n')
    # Fields under 4 characters (indices, labels like "0") are not text.
    assert held_out_texts(tmp_path) == {"index", "sentence1", "sentence2", "label", "acatsat",
                                        "thecatsatdown", "entailment", "title", "wallst",
                                        "description", "bearsclawback"}


def test_pool_drops_held_out_and_repeated_lines(shared_data, tmp_path):
    summary = build_english_corpus(tmp_path / "pool", shared_data,
                                   only=["senteval/CR train", "glue/wnli train"], log=lambda _: None)
    # Counts of the real file: 3,016 lines in CR's train.tsv, one with an empty sentence.
    assert summary["sources"]["senteval/CR train"] == {
        "documents": 3004, "lines": 3004, "held_out": 4, "repeats": 7, "words": 56671}
    assert summary["sources"]["glue/wnli train"]["lines"] == 856
    held_out = held_out_texts(shared_data)
    lines = [line for line in (tmp_path / "pool" / "train.txt").read_text().splitlines() if line]
    keys = [normalise(line) for line in lines]
    assert len(keys) == len(set(keys)) == summary["total"]["lines"]
    assert not held_out.intersection(keys)
    assert json.loads((tmp_path / "pool" / "sources.json").read_text())["total"] == summary["total"]
    assert (tmp_path / "pool" / "valid.txt").read_bytes() == \
        (shared_data / "wikitext-2" / "valid.txt").read_bytes()


def test_unknown_source_is_one_line_error(shared_data, tmp_path):
    with pytest.raises(DataError, match=r"unknown source\(s\) \['nltk/gutenberg'\]"):
        build_english_corpus(tmp_path / "pool", shared_data, only=["nltk/gutenberg"])
