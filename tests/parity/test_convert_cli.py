"""``lmlab convert`` on the command line: each direction and format works, and every bad
input (a family or head with no counterpart, an incomplete run folder, an unsupported HF
architecture, an occupied output folder) is a one-line error."""

import json
import shutil

import pytest

from lmlab.cli import main

transformers = pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")


def _ok(argv, capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lmlab: error: "), err
    return err


def test_to_hf_from_hf_and_to_onnx(make_run, tmp_path, capsys):
    run = make_run("bert/tiny", "classification")
    summary = _ok(["convert", str(run), "--to", "hf", str(tmp_path / "hf")], capsys)
    assert summary["class"] == "BertForSequenceClassification"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf"))
    assert model.config.id2label[1] == "pos"
    summary = _ok(["convert", str(tmp_path / "hf"), "--from", "hf", str(tmp_path / "back")], capsys)
    assert summary["kind"] == "classification"
    summary = _ok(["convert", str(tmp_path / "back"), "--to", "onnx", str(tmp_path / "onnx"),
                   "--int8"], capsys)
    assert summary["max_abs_diff"] <= 1e-4 and "int8_max_abs_diff" in summary
    assert (tmp_path / "onnx" / "model.int8.onnx").exists()
    # The same output folder again: refused unless --overwrite.
    error = _one_line_error(["convert", str(run), "--to", "hf", str(tmp_path / "hf")], capsys)
    assert "already holds an HF transformers export" in error
    _ok(["convert", str(run), "--to", "hf", str(tmp_path / "hf"), "--overwrite"], capsys)


def test_families_without_a_counterpart_name_their_formats(make_run, tmp_path, capsys):
    rnn = make_run("rnnlm/ptb")
    for target in ("hf", "onnx"):
        error = _one_line_error(["convert", str(rnn), "--to", target, str(tmp_path / target)],
                                capsys)
        assert "has no" in error and "lmlab run folder" in error
    ngram = tmp_path / "kn3"
    ngram.mkdir()
    (ngram / "ngram.json").write_text("{}")
    error = _one_line_error(["convert", str(ngram), "--to", "onnx", str(tmp_path / "o")], capsys)
    assert "n-gram" in error and "ARPA" in error
    vectors = tmp_path / "w2v"
    vectors.mkdir()
    (vectors / "vectors.bin").write_bytes(b"")
    error = _one_line_error(["convert", str(vectors), "--to", "hf", str(tmp_path / "h")], capsys)
    assert "word2vec" in error


@pytest.mark.parametrize("preset,kind,options,expected", [
    ("gpt/tiny", "classification", {}, "no HF counterpart"),
    ("bert/tiny", "classification", {"pooling": "mean"}, "pooling: mean"),
    ("bert/tiny", "tagging", {"crf": True}, "CRF"),
])
def test_heads_without_a_counterpart(make_run, tmp_path, capsys, preset, kind, options, expected):
    run = make_run(preset, kind, **options)
    error = _one_line_error(["convert", str(run), "--to", "hf", str(tmp_path / "x")], capsys)
    assert expected in error
    assert not (tmp_path / "x").exists()  # nothing written


def test_run_folder_with_a_missing_file(make_run, tmp_path, capsys):
    run = tmp_path / "broken"
    shutil.copytree(make_run("bert/tiny"), run)
    (run / "checkpoint" / "tokenizer" / "tokenizer.json").unlink()
    for target in ("hf", "onnx"):
        error = _one_line_error(["convert", str(run), "--to", target, str(tmp_path / target)],
                                capsys)
        assert "incomplete (missing tokenizer/tokenizer.json)" in error
    error = _one_line_error(["convert", str(tmp_path / "nowhere"), "--to", "hf",
                             str(tmp_path / "h")], capsys)
    assert "no such run folder" in error


def test_unsupported_hf_architecture(tmp_path, capsys):
    folder = tmp_path / "xlnet"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"architectures": ["CTRLLMHeadModel"], "model_type": "ctrl"}))
    error = _one_line_error(["convert", str(folder), "--from", "hf", str(tmp_path / "r")], capsys)
    assert "CTRLLMHeadModel" in error and "no lmlab counterpart" in error
    (folder / "config.json").write_text(json.dumps(  # XLNet is read, but not every head
        {"architectures": ["XLNetForQuestionAnswering"], "model_type": "xlnet"}))
    error = _one_line_error(["convert", str(folder), "--from", "hf", str(tmp_path / "r")], capsys)
    assert "XLNetForQuestionAnswering" in error and "no lmlab counterpart" in error
    (folder / "config.json").write_text(json.dumps(  # T5 is read, but needs its tokenizer
        {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"}))
    error = _one_line_error(["convert", str(folder), "--from", "hf", str(tmp_path / "r")], capsys)
    assert "no tokenizer.json" in error
    (folder / "config.json").write_text(json.dumps(
        {"architectures": ["ElectraForSequenceClassification"], "model_type": "electra"}))
    error = _one_line_error(["convert", str(folder), "--from", "hf", str(tmp_path / "r")], capsys)
    assert "ElectraForSequenceClassification" in error
    error = _one_line_error(["convert", str(tmp_path / "empty"), "--from", "hf",
                             str(tmp_path / "r")], capsys)
    assert "no config.json" in error


def test_an_hf_folder_given_as_a_run_says_use_from_hf(minilm_dir, tmp_path, capsys):
    error = _one_line_error(["convert", str(minilm_dir), "--to", "onnx", str(tmp_path / "o")],
                            capsys)
    assert "convert it with --from hf" in error


def test_int8_only_with_onnx(make_run, tmp_path, capsys):
    error = _one_line_error(["convert", str(make_run("gpt/tiny")), "--to", "hf",
                             str(tmp_path / "h"), "--int8"], capsys)
    assert "--int8" in error
