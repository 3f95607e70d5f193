"""`lmlab embed ...` end to end on a tiny corpus, and bad input giving one-line errors."""

import argparse

import numpy as np
import pytest

from lmlab.errors import DataError, LmlabError
from lmlab.wordvec.commands import add_commands
from lmlab.wordvec.io import load_vectors

pytest.importorskip("numba")


def _run(*argv):
    parser = argparse.ArgumentParser(prog="lmlab")
    add_commands(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.run(args)


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = "king queen man woman paris france rome italy apple banana".split()
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(200)) + "\n")
    return path


@pytest.mark.parametrize("method,loss", [("skipgram", "negative"), ("cbow", "hs")])
def test_train_eval_neighbors(tmp_path, corpus, capsys, method, loss):
    out = tmp_path / "run"
    assert _run("embed", "train", "--method", method, "--loss", loss, "--data", str(corpus),
                "--out", str(out), "--epochs", "1", "--vector-size", "8", "--no-progress",
                "--format", "text", "--format", "safetensors") == 0
    words, vectors = load_vectors(out)
    assert sorted(words) == sorted("king queen man woman paris france rome italy apple banana".split())
    assert vectors.shape == (10, 8)
    for name in ("vectors.txt", "vectors.safetensors"):
        assert load_vectors(out / name)[0] == words
    assert _run("embed", "neighbors", str(out), "king", "--topn", "3") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 4
    assert _run("embed", "eval", str(out), "--json") == 0


def test_empty_corpus(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(DataError, match="empty"):
        _run("embed", "train", "--data", str(empty), "--out", str(tmp_path / "r"))


def test_min_count_leaves_no_vocabulary(tmp_path, corpus):
    with pytest.raises(DataError, match="no word occurs at least 100000 times"):
        _run("embed", "train", "--data", str(corpus), "--out", str(tmp_path / "r"),
             "--min-count", "100000")


def test_missing_file_and_unknown_word(tmp_path, corpus):
    with pytest.raises(LmlabError):
        _run("embed", "train", "--data", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "r"))
    out = tmp_path / "run"
    _run("embed", "train", "--data", str(corpus), "--out", str(out), "--epochs", "1",
         "--no-progress", "--vector-size", "4")
    with pytest.raises(DataError, match="not in the vocabulary"):
        _run("embed", "neighbors", str(out), "zebra")


@pytest.mark.parametrize("method", ["cw", "multiproto"])
def test_train_cw_and_multiproto(tmp_path, corpus, capsys, method):
    out = tmp_path / method
    assert _run("embed", "train", "--method", method, "--data", str(corpus), "--out", str(out),
                "--epochs", "1", "--vector-size", "8", "--window", "2", "--prototypes", "2",
                "--no-progress") == 0
    words, vectors = load_vectors(out)
    assert len(words) == 10 and vectors.shape == (10, 8)
    capsys.readouterr()
    assert _run("embed", "eval", str(out)) == 0
    if method == "multiproto":
        assert "AvgSim" in capsys.readouterr().out
        sense_words, _ = load_vectors(out / "senses.bin")
        assert "king#1" in sense_words
