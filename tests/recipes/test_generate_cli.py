"""``lmlab generate`` over run folders: an encoder–decoder maps each line of --input to a
line of --out (greedy and beam search), a causal LM continues its prompt, an n-gram model
refuses beam search, and bad inputs are one-line errors naming the file and line."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402


@pytest.fixture(scope="module")
def bart_run(tmp_path_factory, tiny_corpus) -> Path:
    out = tmp_path_factory.mktemp("runs") / "bart"
    train(tiny_config("bart/tiny", tiny_corpus, steps=2, every=2), out, log=lambda *_: None)
    return out


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_encoder_decoder_maps_each_input_line_to_an_output_line(capsys, bart_run, tmp_path):
    inputs = tmp_path / "sources.txt"
    inputs.write_text("the company said\nshares fell sharply in trading\n", encoding="utf-8")
    for extra in ([], ["--num-beams", "3", "--no-repeat-ngram-size", "2"]):
        out = tmp_path / f"out{len(extra)}.txt"
        code, stdout, err = _cli(capsys, "generate", bart_run, "--input", inputs, "--out", out,
                                 "--max-new-tokens", "6", *extra)
        assert code == 0, err
        assert '"inputs": 2' in stdout
        lines = out.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 2 and all(len(line.split()) <= 6 for line in lines)
    code, _, err = _cli(capsys, "generate", bart_run, "--input", inputs, "--out", out)
    assert code == 1 and "exists" in err  # never overwritten without --overwrite


@pytest.mark.parametrize("content, message", [
    ("first\n\nthird\n", ":2: empty line"),
    ("", "empty file"),
])
def test_bad_input_files_name_the_file_and_line(capsys, bart_run, tmp_path, content, message):
    inputs = tmp_path / "in.txt"
    inputs.write_text(content, encoding="utf-8")
    code, _, err = _cli(capsys, "generate", bart_run, "--input", inputs)
    assert code == 1 and message in err and str(inputs) in err
    assert len(err.strip().splitlines()) == 1


def test_undecodable_input_is_one_line(capsys, bart_run, tmp_path):
    inputs = tmp_path / "latin1.txt"
    inputs.write_bytes("caf\xe9\n".encode("latin-1"))
    code, _, err = _cli(capsys, "generate", bart_run, "--input", inputs)
    assert code == 1 and "not UTF-8" in err and len(err.strip().splitlines()) == 1
