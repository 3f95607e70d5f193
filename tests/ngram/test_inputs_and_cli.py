"""Bad inputs give one clear error; the CLI and the run-folder API work end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.errors import CheckpointError, ConfigError, DataError
from lmlab.ngram import build_run, evaluate_run_perplexity, generate_from_run, is_ngram_run


def test_empty_corpus(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        build_run(str(path), 3, tmp_path / "run")


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"a b\nc \xff d\n")
    with pytest.raises(DataError, match=r"bad\.txt:2:"):
        build_run(str(path), 2, tmp_path / "run")


def test_sentence_markers_in_text_are_refused(tmp_path):
    path = tmp_path / "marks.txt"
    path.write_text("a b\nc </s> d\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"marks\.txt:2: the symbol </s>"):
        build_run(str(path), 2, tmp_path / "run")


@pytest.mark.parametrize("order", [0, 10])
def test_order_out_of_range(toy_file, tmp_path, order):
    with pytest.raises(ConfigError, match="from 1 to 9"):
        build_run(str(toy_file), order, tmp_path / "run")


def test_unknown_smoothing(toy_file, tmp_path):
    with pytest.raises(ConfigError, match="mkn, kn, wb, addk"):
        build_run(str(toy_file), 2, tmp_path / "run", smoothing="good-turing", discount_fallback=True)


def test_not_a_run_folder(tmp_path):
    assert not is_ngram_run(tmp_path)
    with pytest.raises(CheckpointError, match="not an n-gram run folder"):
        evaluate_run_perplexity(tmp_path, "ptb", "test")


def test_run_folder_api(toy_file, tmp_path):
    run = tmp_path / "run"
    info = build_run(str(toy_file), 2, run, discount_fallback=True)
    assert is_ngram_run(run) and (run / "model.arpa").is_file()
    marker = json.loads((run / "ngram.json").read_text())
    assert marker["order"] == 2 and marker["smoothing"] == "mkn" and marker["vocab_size"] == 6
    assert marker["build_seconds"] == info["build_seconds"] > 0
    result = evaluate_run_perplexity(run, str(toy_file), "test")
    assert result["tokens"] == 10 and result["oov"] == 0 and result["sentences"] == 3
    assert result["perplexity"] == pytest.approx(result["perplexity_excluding_oov"])
    text = generate_from_run(run, "a", 5, seed=3)
    assert text.startswith("a") and set(text.split()) <= {"a", "b", "c"}
    assert generate_from_run(run, "a", 5, seed=3) == text  # seeded


def test_cli_build_and_score(toy_file, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["ngram", "build", "-o", "2", "--data", str(toy_file), "--out", str(run),
                 "--discount-fallback"]) == 0
    capsys.readouterr()
    assert main(["ngram", "score", str(run), "--sentence", "a b zzz", "--per-word"]) == 0
    out = capsys.readouterr().out
    assert "zzz=0 1" in out and "Total:" in out and "OOVs:\t1" in out
    assert main(["ngram", "score", str(run), "--file", str(toy_file)]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 10
    assert main(["ngram", "build", "-o", "0", "--data", str(toy_file), "--out", str(run)]) == 1
    assert "from 1 to 9" in capsys.readouterr().err


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_truncated_npz_without_manifest_is_one_line(toy_file, tmp_path, keep):
    """An old run (no manifest.json): the reader itself names the file (issue 16)."""
    run = tmp_path / "run"
    build_run(str(toy_file), 2, run, discount_fallback=True)
    (run / "manifest.json").unlink()
    marker = json.loads((run / "ngram.json").read_text())
    del marker["manifest"]  # an older lmlab neither wrote a manifest nor said it would
    (run / "ngram.json").write_text(json.dumps(marker))
    npz = run / "model.npz"
    npz.write_bytes(npz.read_bytes()[:int(npz.stat().st_size * keep)])
    with pytest.raises(CheckpointError, match=r"model\.npz: not a readable lmlab n-gram model "
                                              r"\(.+\); expected the \.npz"):
        evaluate_run_perplexity(run, str(toy_file), "test")


def test_greedy_generation_takes_the_most_likely_word(toy_file, tmp_path, capsys):
    """``--temperature 0`` on an n-gram run is greedy (it used to fail: "temperature must
    be > 0")."""
    from lmlab.ngram.generate import next_word_log10
    from lmlab.ngram.run_folder import load_run

    run = tmp_path / "run"
    build_run(str(toy_file), 2, run, discount_fallback=True)
    model = load_run(run)
    text = generate_from_run(run, "a", 3, temperature=0.0)
    context = [model.vocab.lookup(["<s>"])[0]] + model.vocab.lookup(["a"])
    for word in text.split()[1:]:
        scores = next_word_log10(model, context)
        scores[model.vocab.lookup(["<s>", "<unk>"])] = -np.inf
        assert model.vocab.words[int(np.argmax(scores))] == word
        context.append(model.vocab.lookup([word])[0])
    assert main(["generate", str(run), "--prompt", "a", "--temperature", "0",
                 "--max-new-tokens", "3"]) == 0
    assert capsys.readouterr().out.strip() == text
