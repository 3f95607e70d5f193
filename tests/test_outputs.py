"""Issue 16: nothing lost, nothing silently wrong.

Output folders and files are refused when they would be overwritten or mixed
(lmlab.outputs), ``eval perplexity`` of an n-gram run scores the run's own data, and
options out of range are one-line errors naming the option and the range.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lmlab.cli import main
from lmlab.outputs import (OutputExistsError, kind_of, prepare_output_file,
                           prepare_output_folder)

sys.path.insert(0, str(Path(__file__).parent / "training"))
from helpers import tiny_config  # noqa: E402

TOY = "a b\na c\nb a b\n"


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def _build(capsys, data, out, order=2, *extra) -> tuple[int, str]:
    return _cli(capsys, "ngram", "build", "-o", order, "--data", data, "--out", out,
                "--discount-fallback", *extra)


@pytest.fixture
def toy(tmp_path) -> Path:
    path = tmp_path / "toy.txt"
    path.write_text(TOY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, tiny_corpus) -> Path:
    from lmlab.training.trainer import train

    out = tmp_path_factory.mktemp("runs") / "gpt"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), out, log=lambda *_: None)
    return out


# --- the module --------------------------------------------------------------------------

def test_new_and_empty_folders_are_used_and_marked(tmp_path):
    assert prepare_output_folder(tmp_path / "a" / "b", "ngram").is_dir()
    assert kind_of(tmp_path / "a" / "b") == "ngram"
    (tmp_path / "empty").mkdir()
    prepare_output_folder(tmp_path / "empty", "wordvec")
    assert kind_of(tmp_path / "empty") == "wordvec"


def test_a_folder_of_the_same_kind_is_refused_unless_resumed_or_overwritten(tmp_path):
    run = prepare_output_folder(tmp_path / "run", "finetune")
    (run / "finetune.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="already holds a fine-tuning; continue it "
                                                "with --resume"):
        prepare_output_folder(run, "finetune")
    assert prepare_output_folder(run, "finetune", resume=True) == run
    assert (run / "finetune.json").exists()             # resume keeps it
    prepare_output_folder(run, "finetune", overwrite=True)
    assert not (run / "finetune.json").exists()         # overwrite empties it


def test_two_kinds_of_model_never_share_a_folder(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    assert kind_of(run) == "neural"
    for resume in (False, True):
        with pytest.raises(OutputExistsError, match="holds a run, not an n-gram model"):
            prepare_output_folder(run, "ngram", resume=resume)
    prepare_output_folder(run, "ngram", overwrite=True)
    assert not (run / "checkpoint").exists() and kind_of(run) == "ngram"


def test_a_folder_lmlab_did_not_write_is_never_emptied(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="holds no lmlab output"):
            prepare_output_folder(tmp_path, "ngram", overwrite=overwrite)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_output_files(tmp_path):
    out = tmp_path / "sub" / "p.txt"
    assert prepare_output_file(out) == out and out.parent.is_dir()
    out.write_text("old")
    with pytest.raises(OutputExistsError, match="already exists.*--overwrite"):
        prepare_output_file(out)
    assert prepare_output_file(out, overwrite=True) == out
    with pytest.raises(OutputExistsError, match="also an input"):
        prepare_output_file(out, overwrite=True, inputs=[tmp_path / "sub" / ".." / "sub" / "p.txt"])
    assert out.read_text() == "old"


# --- item 1: commands ----------------------------------------------------------------------

def test_ngram_build_does_not_replace_a_model(capsys, toy, tmp_path):
    run = tmp_path / "kn"
    assert _build(capsys, toy, run, 3)[0] == 0
    before = (run / "model.arpa").read_text()
    code, err = _build(capsys, toy, run, 2)
    assert code == 1 and "already holds an n-gram model" in err and "--overwrite" in err
    assert (run / "model.arpa").read_text() == before
    assert json.loads((run / "ngram.json").read_text())["order"] == 3
    code, err = _build(capsys, toy, run, 0, "--overwrite")   # a typo costs nothing
    assert code == 1 and "from 1 to 9" in err and (run / "model.arpa").read_text() == before
    assert _build(capsys, toy, run, 2, "--overwrite")[0] == 0
    assert json.loads((run / "ngram.json").read_text())["order"] == 2


def test_ngram_build_into_a_neural_run_is_refused(capsys, toy, gpt_run):
    code, err = _build(capsys, toy, gpt_run)
    assert code == 1 and "holds a run, not an n-gram model" in err
    assert not (gpt_run / "ngram.json").exists()


def test_train_into_an_ngram_run_is_refused(capsys, toy, tmp_path, tiny_corpus):
    run = tmp_path / "kn"
    assert _build(capsys, toy, run)[0] == 0
    code, err = _cli(capsys, "train", "gpt/tiny", "--data", tiny_corpus, "--out", run,
                     "--set", "train.max_steps=1")
    assert code == 1 and "holds an n-gram model, not a run" in err
    assert not (run / "checkpoint").exists()


def test_finetune_into_a_pretraining_run_is_refused(capsys, gpt_run):
    before = (gpt_run / "checkpoint" / "model.safetensors").read_bytes()
    for extra in ([], ["--resume"]):
        code, err = _cli(capsys, "finetune", gpt_run, "--task", "glue/wnli", "--out", gpt_run,
                         "--quiet", "--max-train-examples", "8", *extra)
        assert code == 1 and "holds a run, not a fine-tuning" in err
    assert (gpt_run / "checkpoint" / "model.safetensors").read_bytes() == before
    assert not (gpt_run / "finetune.json").exists()


def test_embed_train_refuses_an_existing_run(capsys, tmp_path):
    pytest.importorskip("numba")
    corpus = tmp_path / "c.txt"
    corpus.write_text("king queen man woman\n" * 50)
    run = tmp_path / "sg"
    args = ["embed", "train", "--data", corpus, "--out", run, "--min-count", "1",
            "--epochs", "1", "--vector-size", "8", "--workers", "1", "--no-progress"]
    assert _cli(capsys, *args)[0] == 0
    before = (run / "vectors.bin").read_bytes()
    code, err = _cli(capsys, *args, "--vector-size", "4")
    assert code == 1 and "already holds word vectors" in err
    assert (run / "vectors.bin").read_bytes() == before
    assert _cli(capsys, *args, "--vector-size", "4", "--overwrite")[0] == 0
    assert (run / "vectors.bin").read_bytes() != before


# --- item 2: eval perplexity of an n-gram run ----------------------------------------------

def test_ngram_eval_defaults_to_the_runs_own_data_from_anywhere(capsys, toy, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(toy.parent)
    assert _build(capsys, "toy.txt", "kn")[0] == 0       # relative paths
    monkeypatch.chdir(tmp_path.parent)                    # elsewhere
    assert main(["eval", "perplexity", str(tmp_path / "kn"), "--split", "test"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == 10 and result["data"] == str(toy.resolve())


# --- item 3: options out of range ----------------------------------------------------------

@pytest.mark.parametrize("argv, option, allowed", [
    (["eval", "perplexity", "RUN", "--max-tokens", "-3"], "--max-tokens", ">= 0"),
    (["eval", "perplexity", "RUN", "--stride", "0"], "--stride", ">= 1"),
    (["generate", "RUN", "--top-p", "2"], "--top-p", "(0, 1]"),
    (["generate", "RUN", "--top-p", "0"], "--top-p", "(0, 1]"),
    (["generate", "RUN", "--max-new-tokens", "0"], "--max-new-tokens", ">= 1"),
    (["generate", "RUN", "--num-beams", "0"], "--num-beams", ">= 1"),
    (["generate", "RUN", "--top-k", "-1"], "--top-k", ">= 0"),
])
def test_out_of_range_options_name_the_option_and_the_range(capsys, argv, option, allowed):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert f"argument {option}: " in err and allowed in err


def test_stride_beyond_the_sequence_is_refused(capsys, gpt_run):
    code, err = _cli(capsys, "eval", "perplexity", gpt_run, "--stride", "33")
    assert code == 1 and "--stride" in err and "1 to 32" in err
