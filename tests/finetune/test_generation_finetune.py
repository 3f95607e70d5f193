"""``lmlab finetune`` on a generation task, for each way a model generates: an
encoder–decoder (BART), a causal LM (GPT, prefix LM) and UniLM (masked targets under the
sequence-to-sequence mask). Dev ROUGE is computed from generated text; evaluate reads a
held-out file by path; predict writes one output a line; a killed UniLM fine-tuning
resumes exactly (its target masks are seeded per batch); a masked LM is refused."""

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from test_finetune_resume import _finetune

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_config  # noqa: E402

from lmlab.cli import main  # noqa: E402
from lmlab.training.trainer import train  # noqa: E402

OPTIONS = ["--task", "gen/ag_news_headlines", "--max-train-examples", "24", "--epochs", "2",
           "--batch-size", "8", "--max-seq-len", "48", "--max-target-len", "8",
           "--dev-split", "dev[:8]", "--max-unk-rate", "1", "--lr", "1e-3", "--quiet",
           "--threads", "1"]


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory, tiny_corpus) -> dict:
    folder = tmp_path_factory.mktemp("runs")
    for preset in ("bart/tiny", "gpt/tiny", "unilm/tiny", "bert/tiny"):
        train(tiny_config(preset, tiny_corpus, steps=2, every=2), folder / preset.split("/")[0],
              log=lambda *_: None)
    return {name: folder / name for name in ("bart", "gpt", "unilm", "bert")}


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("family, mode", [("bart", "encoder_decoder"), ("gpt", "prefix_lm"),
                                          ("unilm", "unilm")])
def test_finetune_evaluate_predict(base_runs, tmp_path, capsys, family, mode):
    out = tmp_path / "headlines"
    code, stdout, err = _cli(capsys, "finetune", base_runs[family], *OPTIONS, "--num-beams", "2",
                             "--out", out)
    assert code == 0, err
    result = json.loads(stdout)
    assert result["metric"] == "rougeL" and set(result["scores"]) == {"rougeL", "rouge1", "rouge2"}
    config = (out / "checkpoint" / "config.yaml").read_text()
    assert f"generation_mode: {mode}" in config
    held_out = tmp_path / "held_out.csv"
    held_out.write_text("label,title,description\n1,Stocks fall,Shares fell on Monday.\n"
                        "2,Team wins,The team won the final.\n", encoding="utf-8")
    code, stdout, err = _cli(capsys, "evaluate", out, "--split", held_out)
    assert code == 0, err
    assert json.loads(stdout)["examples"] == 2
    inputs = tmp_path / "in.txt"
    inputs.write_text("Shares fell on Monday.\nThe team won the final.\n", encoding="utf-8")
    code, _, err = _cli(capsys, "predict", out, "--input", inputs, "--out", tmp_path / "o.txt")
    assert code == 0, err
    lines = (tmp_path / "o.txt").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 3 and lines[-1] == ""
    assert all(len(line.split()) <= 8 for line in lines)


def test_a_masked_lm_cannot_be_finetuned_to_generate(base_runs, tmp_path, capsys):
    code, _, err = _cli(capsys, "finetune", base_runs["bert"], *OPTIONS, "--out", tmp_path / "x")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "a masked LM cannot be fine-tuned to generate" in err
    assert not (tmp_path / "x").exists()


def test_an_empty_predict_line_names_its_line(base_runs, tmp_path, capsys):
    out = tmp_path / "run"
    assert _cli(capsys, "finetune", base_runs["bart"], *OPTIONS, "--epochs", "1",
                "--out", out)[0] == 0
    inputs = tmp_path / "in.txt"
    inputs.write_text("fine\n\n", encoding="utf-8")
    code, _, err = _cli(capsys, "predict", out, "--input", inputs, "--out", tmp_path / "o.txt")
    assert code == 1 and f"{inputs}:2: empty line" in err


def test_a_killed_unilm_finetuning_resumes_exactly(base_runs, tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    args = [str(base_runs["unilm"]), *OPTIONS, "--evals-per-epoch", "3", "--seeds", "0", "1"]
    full = _finetune([*args, "--out", str(tmp_path / "full")], env)
    assert full.returncode == 0, full.stderr
    killed = _finetune([*args, "--out", str(tmp_path / "cut")], env, kill_at_step=2)
    assert killed.returncode == -signal.SIGKILL
    resumed = _finetune([*args, "--out", str(tmp_path / "cut"), "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    want, got = (json.loads((tmp_path / name / "results.json").read_text())
                 for name in ("full", "cut"))
    for a, b in zip(want["runs"], got["runs"]):
        assert [(h["step"], h["loss"], h["rougeL"]) for h in a["history"]] == \
            [(h["step"], h["loss"], h["rougeL"]) for h in b["history"]]


def test_text_to_text_glue_and_a_vocabulary_without_the_label_words(base_runs, tmp_path,
                                                                     capsys):
    options = [*OPTIONS[2:], "--text-to-text", "--dev-split", "dev[:16]"]
    code, stdout, err = _cli(capsys, "finetune", base_runs["bart"], "--task", "glue/mrpc",
                             *options, "--out", tmp_path / "mrpc")
    assert code == 0, err  # "equivalent" and "not" are in the tiny PTB vocabulary
    assert json.loads(stdout)["metric"] == "f1"
    code, _, err = _cli(capsys, "finetune", base_runs["bart"], "--task", "glue/rte", *options,
                        "--out", tmp_path / "rte")
    assert code == 1 and "cannot write the label 'entailment' of glue/rte" in err


def test_translation_smoke_from_a_single_file_corpus(shared_data, tmp_path, capsys):
    """English -> Chinese (sacrebleu BLEU and chrF, zh tokenizer), from a BART pre-trained
    on one text file: a single file is split by lines (90% train, 5% valid, 5% test)."""
    from lmlab.config import load_config
    from lmlab.presets import preset_path

    pairs = shared_data / "uer_py/corpora/news-commentary-v13-en-zh_sampled.txt"
    corpus = tmp_path / "mixed.txt"
    corpus.write_text("\n".join(line.replace("\t", "\n") for line in
                                pairs.read_text(encoding="utf-8").splitlines()[:200]) + "\n",
                      encoding="utf-8")
    config = load_config(preset_path("bart/tiny"), [
        f"data.dataset={corpus}", "data.tokenizer.kind=wordpiece",
        "data.tokenizer.vocab_size=600", "data.seq_len=32", "data.batch_size=4",
        "train.max_steps=2", "train.eval_every=2", "train.eval_batches=1",
        "train.progress=false"])
    train(config, tmp_path / "bart", log=lambda *_: None)
    code, stdout, err = _cli(capsys, "finetune", tmp_path / "bart", "--task",
                             "gen/news_commentary_en_zh", "--max-train-examples", "16",
                             "--epochs", "1", "--dev-split", "dev[:8]", "--max-target-len", "8",
                             "--quiet", "--threads", "1", "--out", tmp_path / "en-zh")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["metric"] == "bleu" and set(result["scores"]) == {"bleu", "chrf"}
