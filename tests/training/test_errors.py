"""Bad input gets one clear line and nothing is lost."""

import pytest
import torch

from lmlab.cli import main
from lmlab.errors import CheckpointError, TrainingDiverged
from lmlab.training.trainer import train

from helpers import tiny_config


def _cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err.strip()


def test_cli_errors_are_one_line(capsys, tiny_corpus, tmp_path):
    code, err = _cli(capsys, "train", "gpt/tiny", "--out", str(tmp_path / "r"),
                     "--set", "model.encoder.num_layer=3")
    assert code == 1 and err.count("\n") == 0
    assert "model.encoder.num_layer: unknown key; did you mean 'num_layers'" in err
    code, err = _cli(capsys, "train", "gpt/tiny", "--data", "pennbank", "--out", str(tmp_path / "r"))
    assert code == 1 and "unknown dataset 'pennbank'" in err and err.count("\n") == 0
    code, err = _cli(capsys, "train", "gpt/tinyy", "--out", str(tmp_path / "r"))
    assert code == 1 and "no such config file or preset" in err
    code, err = _cli(capsys, "eval", "perplexity", str(tmp_path / "nothing"))
    assert code == 1 and "no such run folder" in err


def test_empty_and_binary_corpora(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train.txt").write_text("\n\n")
    code, err = _cli(capsys, "train", "gpt/tiny", "--data", str(empty), "--out", str(tmp_path / "a"))
    assert code == 1 and "empty" in err
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "train.txt").write_bytes(bytes(range(256)) * 10)
    code, err = _cli(capsys, "train", "gpt/tiny", "--data", str(binary), "--out", str(tmp_path / "b"))
    assert code == 1 and "binary" in err and "train.txt" in err


def test_existing_run_is_not_overwritten_and_other_models_are_refused(tiny_corpus, tmp_path):
    run = tmp_path / "gpt"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    before = (run / "checkpoint" / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(tiny_config("gpt/tiny", tiny_corpus, steps=2, every=2), run)
    with pytest.raises(CheckpointError, match=r"holds a gpt model .* not the bert model"):
        train(tiny_config("bert/tiny", tiny_corpus, steps=2, every=2), run, resume=True)
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == before


def test_weights_of_another_model_are_named(tiny_corpus, tmp_path):
    from lmlab.training.checkpoint import load_weights
    from lmlab.registry import build_model

    run = tmp_path / "gpt"
    train(tiny_config("gpt/tiny", tiny_corpus, steps=1, every=1), run, log=lambda *_: None)
    other = build_model(tiny_config("bert/tiny", tiny_corpus).model, vocab_size=50)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_weights(other, run / "checkpoint")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_corpus, tmp_path, monkeypatch):
    from lmlab.objectives import clm

    run = tmp_path / "nan"
    config = tiny_config("gpt/tiny", tiny_corpus, steps=6, every=2)
    real_call = clm.CausalLMObjective.loss

    def poisoned(self, model, batch):
        output = real_call(self, model, batch)
        if batch["step"] == 3:
            return output._replace(loss=output.loss * float("nan"))
        return output

    monkeypatch.setattr(clm.CausalLMObjective, "loss", poisoned)
    # batch["step"] counts from 0: batch 3 is step 4, as metrics.jsonl and checkpoints count
    with pytest.raises(TrainingDiverged, match=r"step 4: the loss is nan.*checkpoint \(step 2\)"):
        train(config, run, log=lambda *_: None)
    state = torch.load(run / "checkpoint" / "trainer_state.pt", weights_only=True)
    assert state["step"] == 2
