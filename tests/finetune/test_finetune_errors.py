"""Issue 16: finetune refuses an unwritable --out before it trains; predict refuses
undecodable input in one line naming the line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.finetune import loop as finetune_loop

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

FAST = ["--max-train-examples", "16", "--epochs", "1", "--batch-size", "16",
        "--max-seq-len", "32", "--max-unk-rate", "1", "--quiet", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, tiny_corpus):
    from lmlab.training.trainer import train

    root = tmp_path_factory.mktemp("ft-errors")
    train(tiny_config("bert/tiny", tiny_corpus, steps=2, every=2), root / "base",
          log=lambda *_: None)
    assert main(["finetune", str(root / "base"), "--task", "glue/wnli", "--out",
                 str(root / "wnli"), "--seeds", "0", *FAST]) == 0
    return root



@pytest.mark.parametrize("where", ["file", "under-file", "read-only"])
def test_finetune_refuses_an_unwritable_out_before_training(finetuned, tmp_path, capsys,
                                                           monkeypatch, where, unwritable_folder):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = {"file": blocker, "under-file": blocker / "run",
           "read-only": unwritable_folder / "run"}[where]

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(finetune_loop, "_seed_run", no_training)
    capsys.readouterr()
    assert main(["finetune", str(finetuned / "base"), "--task", "glue/wnli", "--out", str(out),
                 "--seeds", "0", *FAST]) == 1
    error = capsys.readouterr().err.splitlines()[-1]  # after the tiny vocabulary's warning
    assert error.startswith("lmlab: error: ") and str(blocker if where == "file" else out) in error


def test_predict_refuses_an_unwritable_out(finetuned, tmp_path, capsys, unwritable_folder):
    inputs = tmp_path / "in.txt"
    inputs.write_text("a\tb\n")
    out = unwritable_folder / "p.txt"
    capsys.readouterr()
    assert main(["predict", str(finetuned / "wnli"), "--input", str(inputs), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmlab: error: ") and "cannot write" in err and err.count("\n") == 1


@pytest.mark.parametrize("content,expected", [
    ("The cat sat.\tIt sat.\nCaf\xe9 cr\xe8me.\tOui.\n".encode("latin-1"),
     r"in\.txt:2: bytes b'\\xe9' at column 4 are not valid utf-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"in\.txt: looks like a binary file"),
])
def test_predict_on_undecodable_input_is_one_line(finetuned, tmp_path, capsys, content, expected):
    inputs = tmp_path / "in.txt"
    inputs.write_bytes(content)
    capsys.readouterr()
    assert main(["predict", str(finetuned / "wnli"), "--input", str(inputs), "--out",
                 str(tmp_path / "p.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmlab: error: ") and err.count("\n") == 1, err
    assert re.search(expected, err), err


def test_predict_keeps_lines_as_the_file_has_them(finetuned, tmp_path, capsys):
    """A BOM is dropped; a U+2028 inside a line does not split it (one output per line)."""
    inputs = tmp_path / "in.txt"
    inputs.write_text("\ufeffThe cat sat.\tIt sat.\nA\u2028B\tC\n", encoding="utf-8")
    assert main(["predict", str(finetuned / "wnli"), "--input", str(inputs), "--out",
                 str(tmp_path / "p.txt")]) == 0
    assert len((tmp_path / "p.txt").read_text().splitlines()) == 2


@pytest.mark.parametrize("option, value, allowed", [
    ("warmup_ratio", 1.5, "expected in [0, 1)"), ("num_beams", 0, "expected >= 1 (1 = greedy)"),
    ("max_seq_len", 4, "expected from 8 to 4096"), ("dropout", 1.0, "expected in [0, 1)")])
def test_a_bad_option_names_its_allowed_range(option, value, allowed):
    from lmlab.errors import ConfigError
    from lmlab.finetune.config import FinetuneOptions

    with pytest.raises(ConfigError, match=re.escape(f"finetune.{option}: bad value {value!r}; "
                                                    f"{allowed}")):
        FinetuneOptions(**{option: value}).validate("finetune")


def test_predict_counts_the_inputs_it_cuts(finetuned, tmp_path, capsys):
    inputs = tmp_path / "in.txt"
    inputs.write_text("short line\n" + "word " * 5000 + "\n", encoding="utf-8")
    assert main(["predict", str(finetuned / "wnli"), "--input", str(inputs), "--out",
                 str(tmp_path / "p.txt")]) == 0
    assert "1 of 2 inputs were longer than max_seq_len=" in capsys.readouterr().err
