import pytest

from lmlab.data import catalogue
from lmlab.errors import DataError


def test_ptb_resolves_to_shared_data_with_pinned_checksums(shared_data):
    assert catalogue.resolve("ptb", "train") == shared_data / "ptb" / "ptb.train.txt"
    assert catalogue.verify("ptb") == {"train": "ok", "valid": "ok", "test": "ok"}


def test_unknown_name_lists_close_matches():
    with pytest.raises(DataError, match=r"unknown dataset 'wikitext2x'.*wikitext-2"):
        catalogue.get("wikitext2x")


def test_missing_split_file_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("LMLAB_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"ptb/valid: expected .*ptb.valid.txt"):
        catalogue.resolve("ptb", "valid")


def test_download_checks_the_pinned_sha256(tmp_path, monkeypatch, shared_data):
    source = shared_data / "ptb" / "ptb.valid.txt"
    entry = catalogue.CATALOGUE["ptb"]
    monkeypatch.setenv("LMLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(entry.splits, "valid", catalogue.SplitFile(
        "ptb/ptb.valid.txt", entry.splits["valid"].sha256, source.resolve().as_uri()))
    path = catalogue.resolve("ptb", "valid", allow_download=True)
    assert path.read_bytes() == source.read_bytes()
    # A wrong pin: the download is discarded and nothing is left behind.
    monkeypatch.setitem(entry.splits, "test", catalogue.SplitFile(
        "ptb/ptb.test.txt", "0" * 64, source.resolve().as_uri()))
    with pytest.raises(DataError, match="does not match the pinned"):
        catalogue.resolve("ptb", "test", allow_download=True)
    assert not (tmp_path / "data" / "ptb" / "ptb.test.txt").exists()
    assert [p.name for p in (tmp_path / "data" / "ptb").iterdir()] == ["ptb.valid.txt"]


def test_the_missing_file_hint_names_a_command_that_exists(tmp_path, monkeypatch, capsys,
                                                           shared_data):
    from lmlab.cli import main

    monkeypatch.setenv("LMLAB_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"lmlab data download ptb'") as error:
        catalogue.resolve("ptb", "train")
    assert "--download" not in str(error.value)
    monkeypatch.setenv("LMLAB_DATA", str(shared_data))  # every file there: nothing to fetch
    assert main(["data", "download", "ptb"]) == 0
    assert '"dataset": "ptb"' in capsys.readouterr().out
