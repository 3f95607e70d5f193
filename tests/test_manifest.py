"""Checksum manifests (issue 16, item 5): every folder lmlab writes is verified on load.

Unit tests of :mod:`lmlab.manifest`, then one test per writer/loader pair: a neural
checkpoint (pre-training and fine-tuning share ``save_checkpoint``), an n-gram run (with
the stale ``model.npz`` beside an edited ``model.arpa``) and a word2vec run.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lmlab.errors import CheckpointError
from lmlab.manifest import MANIFEST, find_problems, verify_folder, write_manifest
from lmlab.ngram import build_run, load_run as load_ngram_run
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train
from lmlab.wordvec.io import load_vectors
from lmlab.wordvec.runs import write_run
from lmlab.wordvec.vocab import Vocabulary

sys.path.insert(0, str(Path(__file__).parent / "training"))
from helpers import tiny_config  # noqa: E402


def _flip_byte(path: Path, offset: int = -5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "run"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(bytes(range(256)) * 5000)  # > 1 MiB: two blocks
    (folder / "sub" / "b.txt").write_text("hello\n")
    (folder / ".lmlab-output").write_text("neural\n")  # hidden: not listed
    write_manifest(folder)
    return folder


def test_the_manifest_lists_every_file_but_hidden_ones(folder):
    files = json.loads((folder / MANIFEST).read_text())["files"]
    assert sorted(files) == ["a.bin", "sub/b.txt"]
    assert files["a.bin"]["bytes"] == 1_280_000
    assert verify_folder(folder, required=("a.bin",)) is True


def test_a_flipped_byte_names_the_file(folder):
    _flip_byte(folder / "a.bin", 1_100_000)  # in the second block
    with pytest.raises(CheckpointError, match=r"run/a\.bin: damaged or changed after it was "
                                              r"written \(sha256 \w+…, the manifest expects \w+…\)"):
        verify_folder(folder)


def test_truncated_and_missing_files_say_what_was_expected(folder):
    (folder / "a.bin").write_bytes(b"")
    (folder / "sub" / "b.txt").unlink()
    problems = find_problems(folder)
    assert problems["a.bin"].endswith("a.bin: 0 bytes, the manifest expects 1280000 "
                                      "(truncated or changed after it was written)")
    assert "sub/b.txt: missing; the manifest expects 6 bytes with sha256" in problems["sub/b.txt"]
    with pytest.raises(CheckpointError, match=r"\(and 1 more damaged file\(s\): sub/b\.txt\)"):
        verify_folder(folder)


def test_a_folder_without_manifest_loads_with_one_warning_line(folder, capsys):
    (folder / MANIFEST).unlink()
    assert verify_folder(folder) is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lmlab: warning: ") and "unverified" in err


@pytest.mark.parametrize("text", ["", "{", '{"format": "other", "files": {}}',
                                  '{"format": "lmlab-manifest/1", "files": {"a": 3}}'])
def test_a_damaged_manifest_is_one_error(folder, text):
    (folder / MANIFEST).write_text(text)
    with pytest.raises(CheckpointError, match="damaged manifest"):
        verify_folder(folder)


def test_a_manifest_of_another_folder_is_refused(folder):
    with pytest.raises(CheckpointError, match="does not list model.safetensors"):
        verify_folder(folder, required=("model.safetensors",))


# --- writers and loaders ---------------------------------------------------------------


@pytest.fixture(scope="module")
def neural_run(tiny_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("neural") / "run"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    return run


@pytest.mark.parametrize("name", ["model.safetensors", "trainer_state.pt", "config.yaml",
                                  "tokenizer/tokenizer.json"])
def test_a_damaged_checkpoint_file_is_refused_by_name(neural_run, tmp_path, name):
    run = tmp_path / "run"
    shutil.copytree(neural_run, run)
    files = json.loads((run / "checkpoint" / MANIFEST).read_text())["files"]
    assert {"model.safetensors", "config.yaml", "trainer_state.pt",
            "tokenizer/tokenizer.json"} <= set(files)
    ckpt.load_run(run)  # intact: loads
    _flip_byte(run / "checkpoint" / name)
    with pytest.raises(CheckpointError, match=rf"checkpoint/{name}: damaged"):
        ckpt.load_run(run)
    with pytest.raises(CheckpointError, match=rf"checkpoint/{name}: damaged"):
        train(None, run, resume=True, log=lambda *_: None)


def test_a_checkpoint_without_weights_names_them(neural_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(neural_run, run)
    (run / "checkpoint" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint/model\.safetensors: missing"):
        ckpt.load_run(run)


def test_an_old_checkpoint_without_manifest_still_loads(neural_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(neural_run, run)
    (run / "checkpoint" / MANIFEST).unlink()
    ckpt.load_run(run)
    assert "no manifest.json" in capsys.readouterr().err


@pytest.fixture
def ngram_run(tmp_path):
    corpus = tmp_path / "toy.txt"
    corpus.write_text("a b\na c\nb a b\nc c a\n", encoding="utf-8")
    run = tmp_path / "ngram"
    build_run(str(corpus), 2, run, discount_fallback=True)
    return run


def test_an_ngram_run_has_a_manifest_and_loads(ngram_run):
    files = json.loads((ngram_run / MANIFEST).read_text())["files"]
    assert sorted(files) == ["model.arpa", "model.npz", "ngram.json"]
    assert load_ngram_run(ngram_run).order == 2


def test_an_edited_arpa_beside_the_built_npz_says_which_is_current(ngram_run):
    arpa = ngram_run / "model.arpa"
    arpa.write_text(arpa.read_text().replace("-0.", "-1.", 1))  # same size, other numbers
    with pytest.raises(CheckpointError, match=r"model\.arpa: damaged or changed .*model\.npz "
                                              r"beside it matches the manifest: it is the model "
                                              r"the build wrote and the current one") as caught:
        load_ngram_run(ngram_run)
    assert f"--arpa {arpa}" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_a_truncated_npz_is_refused_and_the_arpa_named_current(ngram_run, content):
    (ngram_run / "model.npz").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"model\.npz: \d+ bytes, the manifest expects "
                                              r".*model\.arpa still matches the manifest"):
        load_ngram_run(ngram_run)


def test_a_word2vec_run_folder_is_verified(tmp_path):
    words = ["a", "b", "c"]
    vocab = Vocabulary(words, np.array([3, 2, 1]))
    run = write_run(tmp_path / "vectors", vocab, np.eye(3, dtype=np.float32), {"method": "test"},
                    ("text",))
    files = json.loads((run / MANIFEST).read_text())["files"]
    assert sorted(files) == ["run.json", "vectors.bin", "vectors.txt"]
    assert load_vectors(run)[0] == words
    _flip_byte(run / "vectors.bin")
    with pytest.raises(CheckpointError, match=r"vectors/vectors\.bin: damaged"):
        load_vectors(run)


def test_an_ngram_build_killed_before_its_manifest_is_refused(ngram_run):
    (ngram_run / MANIFEST).unlink()  # killed between ngram.json and manifest.json
    with pytest.raises(CheckpointError, match=r"no manifest\.json, though its ngram\.json says "
                                              r"the build writes one: the build was interrupted"):
        load_ngram_run(ngram_run)


def test_a_word2vec_run_killed_before_its_manifest_is_refused(tmp_path, capsys):
    vocab = Vocabulary(["a", "b"], np.array([2, 1]))
    run = write_run(tmp_path / "vectors", vocab, np.eye(2, dtype=np.float32), {"method": "t"})
    (run / MANIFEST).unlink()  # killed between run.json and manifest.json
    with pytest.raises(CheckpointError, match=r"no manifest\.json, though its run\.json says "
                                              r"the training writes one: the training was "
                                              r"interrupted"):
        load_vectors(run)
    info = json.loads((run / "run.json").read_text())
    info.pop("manifest")  # a folder from before manifests: loads, with one warning
    (run / "run.json").write_text(json.dumps(info))
    assert load_vectors(run)[0] == ["a", "b"]
    assert "loading it unverified" in capsys.readouterr().err
