"""Vector files: round trips, gensim interoperability, clear errors."""

import numpy as np
import pytest

from lmlab.errors import DataError
from lmlab.wordvec.io import load_vectors, save_vectors

WORDS = ["the", "cat", "café", "<unk>"]
VECTORS = np.arange(12, dtype=np.float32).reshape(4, 3) / 7 - 0.5


@pytest.mark.parametrize("name", ["v.txt", "v.bin", "v.safetensors"])
def test_round_trip_is_exact(tmp_path, name):
    save_vectors(tmp_path / name, WORDS, VECTORS)
    words, vectors = load_vectors(tmp_path / name)
    assert words == WORDS
    assert vectors.dtype == np.float32 and np.array_equal(vectors, VECTORS)


@pytest.mark.parametrize("name,binary", [("v.txt", False), ("v.bin", True)])
def test_gensim_reads_ours_and_we_read_gensims(tmp_path, name, binary):
    keyed = pytest.importorskip("gensim.models.keyedvectors")
    save_vectors(tmp_path / name, WORDS, VECTORS)
    kv = keyed.KeyedVectors.load_word2vec_format(str(tmp_path / name), binary=binary)
    assert kv.index_to_key == WORDS and np.array_equal(kv.vectors, VECTORS)
    theirs = tmp_path / ("g" + name)
    kv.save_word2vec_format(str(theirs), binary=binary)
    words, vectors = load_vectors(theirs)
    assert words == WORDS and np.allclose(vectors, VECTORS, atol=1e-6)


def test_text_file_with_inconsistent_dimensions(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("2 3\nthe 0.1 0.2 0.3\ncat 0.1 0.2\n")
    with pytest.raises(DataError, match=r"bad.txt:3: 2 numbers after 'cat', but the header says dimension 3"):
        load_vectors(path)


def test_truncated_and_bad_headers(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("3 2\nthe 0.1 0.2\n")
    with pytest.raises(DataError, match="promises 3 vectors, the file has 1"):
        load_vectors(short)
    save_vectors(tmp_path / "v.bin", WORDS, VECTORS)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-10])
    with pytest.raises(DataError, match="ends at vector 4"):
        load_vectors(tmp_path / "cut.bin")
    (tmp_path / "noheader.txt").write_text("the 0.1 0.2\n")
    with pytest.raises(DataError, match="expected a header"):
        load_vectors(tmp_path / "noheader.txt")
    with pytest.raises(DataError, match="no such vectors file"):
        load_vectors(tmp_path / "missing.bin")


def test_words_with_spaces_are_refused(tmp_path):
    with pytest.raises(DataError, match="whitespace"):
        save_vectors(tmp_path / "v.txt", ["a b"], np.zeros((1, 2)))
