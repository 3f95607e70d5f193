import gzip

import pytest

from lmlab.data.corpus import iter_documents, iter_lines, iter_sentences
from lmlab.errors import DataError


def test_documents_split_on_blank_lines(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b\nc\n\n \nd e\n\n")
    docs = list(iter_documents(path))
    assert [[line.text for line in doc] for doc in docs] == [["a b", "c"], ["d e"]]
    assert docs[1][0].line_number == 5


def test_gzip_is_read_transparently(tmp_path):
    path = tmp_path / "c.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("x y\nz\n")
    assert [line.text for line in iter_sentences(path)] == ["x y", "z"]


def test_empty_corpus_is_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n  \n")
    with pytest.raises(DataError, match="empty"):
        list(iter_sentences(path))


def test_undecodable_bytes_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nalso good\nbad \xff\xfe here\n")
    with pytest.raises(DataError, match=r"bad.txt:3: .*not valid utf-8") as error:
        list(iter_lines(path))
    # The hint names options that exist (issue 16: no --encoding-errors flag).
    assert "--set data.encoding_errors=replace" in str(error.value)
    assert "--encoding-errors" not in str(error.value)
    replaced = [line.text for line in iter_lines(path, errors="replace")]
    assert replaced[2] == "bad \ufffd\ufffd here"


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DataError, match="binary"):
        list(iter_lines(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(iter_lines(tmp_path / "nope.txt"))


def test_a_single_file_corpus_is_split_by_lines(tmp_path):
    """90% train, then 5% valid and 5% test, as a one-file catalogue entry."""
    from lmlab.data.lm_data import split_lines

    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"line {i}\n" for i in range(40)), encoding="utf-8")
    parts = {split: [line.text for line in split_lines(str(path), split)]
             for split in ("train", "valid", "test")}
    assert parts == {"train": [f"line {i}" for i in range(36)],
                     "valid": ["line 36", "line 37"], "test": ["line 38", "line 39"]}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_is_named_as_such(tmp_path, encoding):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nand so on\n", encoding=encoding)
    with pytest.raises(DataError, match=r"corpus.txt: is UTF-16 text; expected UTF-8 "
                                        r"\(convert it, e.g. iconv -f UTF-16"):
        list(iter_lines(path))


def test_a_binary_file_is_still_called_binary(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes([7, 0, 0, 1, 200, 0, 13, 0, 0, 0, 5, 9] * 4))
    with pytest.raises(DataError, match="looks like a binary file"):
        list(iter_lines(path))


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
def test_an_empty_training_corpus_is_named(tmp_path, kind):
    from lmlab.config import DataConfig
    from lmlab.data.lm_data import prepare_tokenizer
    from lmlab.data.tokenizers import TokenizerConfig

    for split, text in (("train", "\n\n"), ("valid", "a\n"), ("test", "a\n")):
        (tmp_path / f"{split}.txt").write_text(text)
    config = DataConfig(dataset=str(tmp_path), tokenizer=TokenizerConfig(kind=kind,
                                                                         vocab_size=100))
    with pytest.raises(DataError, match=r"train\.txt: the corpus is empty \(no non-blank line\)"):
        prepare_tokenizer(config)
