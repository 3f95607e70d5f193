"""Dai & Le (2015) sequence autoencoder (SA-LSTM, §2) and the LSTM classifier fine-tuned
from it, on tiny shapes."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.objectives.sequence_autoencoder import (SequenceAutoencoderConfig,
                                                   SequenceAutoencoderObjective, teacher_forcing)
from lmlab.presets import preset_path
from lmlab.registry import build_model

V = 10  # 0-3 special ([CLS] = 1, [SEP] = 2), 4-9 text
TOKENIZER = SimpleNamespace(cls_id=1, sep_id=2)


def _model(hidden=8, share_weights=True, layers=1):
    config = load_config(preset_path("sa_lstm/tiny"), [f"model.embedding.hidden_size={hidden}",
                                                       f"model.encoder.num_layers={layers}"])
    objective = SequenceAutoencoderObjective(SequenceAutoencoderConfig(
        share_weights=share_weights), TOKENIZER, seed=0)
    model = build_model(config.model, vocab_size=V, seed=0, objectives=[objective])
    return model, objective


def test_teacher_forcing_of_a_four_token_example():
    """Figure 1 with [SEP] as <eos>: the encoder reads [CLS] x, the decoder reads [SEP] x
    and predicts x [SEP]."""
    ids = torch.tensor([[1, 5, 6, 7, 8, 2]])  # [CLS] x1..x4 [SEP]
    encoder_ids, decoder_ids, labels = teacher_forcing(ids)
    assert encoder_ids.tolist() == [[1, 5, 6, 7, 8]]
    assert decoder_ids.tolist() == [[2, 5, 6, 7, 8]]
    assert labels.tolist() == [[5, 6, 7, 8, 2]]


def test_shared_weights_loss_is_one_lstm_pass_over_x_sep_x_scored_on_the_second_half():
    """Encoder and decoder are the same LSTM (Dai & Le §2): the loss equals the
    cross-entropy of one left-to-right pass over [CLS] x [SEP] x at the last 5 places."""
    model, objective = _model(layers=2)
    model = model.double().eval()
    ids = torch.tensor([[1, 5, 6, 7, 8, 2], [1, 9, 4, 4, 6, 2]])
    loss = objective.loss(model, {"input_ids": ids}).loss
    joined = torch.cat([ids, ids[:, 1:-1]], dim=1)  # (2, 10): [CLS] x [SEP] x
    logits = model.lm_head(model(joined).hidden)[:, 5:]  # (2, 5, V): from [SEP] on
    expected = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:])
    assert abs(loss.item() - expected.item()) < 1e-12
    assert len(model.heads) == 0  # no decoder of its own


def test_a_separate_decoder_starts_from_the_encoders_final_state():
    """share_weights: false: the decoder LSTM (heads.autoencoder) reads [SEP] x from the
    encoder's (h, c) after [CLS] x; written out with the two nn.LSTMs."""
    model, objective = _model(share_weights=False)
    model = model.double().eval()
    ids = torch.tensor([[1, 5, 6, 7, 8, 2]])
    loss = objective.loss(model, {"input_ids": ids}).loss
    embed = model.embedding.tokens
    _, state = model.encoder.lstm(embed(torch.tensor([[1, 5, 6, 7, 8]])))
    decoded, _ = model.heads["autoencoder"].lstm(embed(torch.tensor([[2, 5, 6, 7, 8]])), state)
    logits = model.lm_head(decoded)[0]  # (5, V)
    expected = F.cross_entropy(logits, torch.tensor([5, 6, 7, 8, 2]))
    assert abs(loss.item() - expected.item()) < 1e-12
    loss.backward()
    assert model.heads["autoencoder"].lstm.weight_hh_l0.grad.abs().sum() > 0
    assert model.encoder.lstm.weight_hh_l0.grad.abs().sum() > 0  # through the state


def test_the_autoencoder_reconstructs_a_five_token_sequence():
    """400 Adam steps on random 5-token sequences over 6 words: greedy decoding from the
    encoder's state gives back the test sequence exactly, then [SEP]."""
    model, objective = _model(hidden=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for step in range(400):
        text = torch.randint(4, V, (32, 5), generator=generator)  # (B, 5)
        ids = torch.cat([torch.full((32, 1), 1), text, torch.full((32, 1), 2)], dim=1)
        loss = objective.loss(model, {"input_ids": ids, "step": step}).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert objective.reconstruct(model, torch.tensor([[7, 4, 9, 5, 8]])).tolist() == \
        [[7, 4, 9, 5, 8, 2]]
    unseen = torch.randint(4, V, (100, 5), generator=generator)
    exact = (objective.reconstruct(model, unseen)[:, :5] == unseen).all(1).float().mean()
    assert exact >= 0.9


def test_held_out_measure_is_reconstruction_perplexity_and_accuracy():
    model, objective = _model()
    model = model.double().eval()
    ids = torch.tensor([[1, 5, 6, 7, 8, 2]])
    totals = objective.evaluate(model, {"input_ids": ids})
    logits = model.lm_head(model(torch.tensor([[1, 5, 6, 7, 8, 2, 5, 6, 7, 8]])).hidden)[0, 5:]
    labels = torch.tensor([5, 6, 7, 8, 2])
    assert totals["tokens"] == 5
    assert totals["correct"] == int((logits.argmax(-1) == labels).sum())
    # evaluate sums the NLL in float32 (bf16 logits under autocast): 1e-5 on float64.
    assert abs(totals["nll"] - F.cross_entropy(logits, labels, reduction="sum").item()) < 1e-5
    summary = objective.summarize({"nll": 5 * 0.5, "correct": 2, "tokens": 5})
    assert summary["kind"] == "reconstruction" and summary["accuracy"] == 0.4
    assert abs(summary["perplexity"] - 1.6487212707) < 1e-9  # e^0.5


@pytest.mark.parametrize("preset, overrides, key", [
    ("bert/tiny", ["objectives=[{name: autoencoder}]"], "model.encoder.name"),
    ("sa_lstm/tiny", ["data.batching=stream"], "data.batching"),
    ("sa_lstm/tiny", ["objectives=[{name: autoencoder, weight: 0}]"], "weight"),
])
def test_config_errors_are_one_line_and_name_the_key(preset, overrides, key):
    with pytest.raises(ConfigError) as error:
        load_config(preset_path(preset), overrides)
    message = str(error.value)
    assert "\n" not in message and key in message, message


def _finetune_model(pooling="last"):
    from lmlab.finetune.model import build_finetune_model

    backbone, _ = _model()
    options = SimpleNamespace(pooling=pooling, dropout=0.0, label_smoothing=0.0)
    return build_finetune_model(backbone, "classification", 2, options).eval()


def test_an_lstm_classifier_reads_the_last_real_token_whatever_the_right_padding():
    """Right padding comes after the last real token, so a forward LSTM never reads it
    before the token the head pools: alone or padded in a batch, the same logits."""
    from lmlab.finetune.features import collate

    model = _finetune_model()
    short = {"ids": [1, 5, 6, 2], "segments": [0] * 4, "label": 0}
    long = {"ids": [1, 7, 8, 9, 4, 5, 2], "segments": [0] * 7, "label": 1}
    alone = model(collate([short], "classification", 0))
    padded = model(collate([short, long], "classification", 0))
    assert torch.allclose(alone[0], padded[0], atol=1e-6)
    places = collate([short, long], "classification", 0)["attention_mask"].sum(1) - 1
    assert places.tolist() == [3, 6]  # [SEP] of each row is what "last" pools


def test_finetune_an_sa_lstm_run_and_refuse_cls_pooling(tiny_corpus, tmp_path, capsys):
    """A two-step sa_lstm/tiny run fine-tuned on a few glue/sst2 examples from its last
    state; --pooling cls (position 0 has read only [CLS]) is a one-line error."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
    from helpers import tiny_config

    from lmlab.cli import main
    from lmlab.training.trainer import train

    run = tmp_path / "sa"
    train(tiny_config("sa_lstm/tiny", tiny_corpus, steps=2, every=2), run, log=lambda *_: None)
    common = ["--task", "glue/sst2", "--max-train-examples", "16", "--epochs", "1",
              "--batch-size", "8", "--max-seq-len", "24", "--max-unk-rate", "1", "--quiet"]
    assert main(["finetune", str(run), "--out", str(tmp_path / "sst2"), "--pooling", "last",
                 *common]) == 0
    assert json.loads(capsys.readouterr().out)["metric"] == "accuracy"
    assert main(["finetune", str(run), "--out", str(tmp_path / "cls"), *common]) != 0
    err = capsys.readouterr().err.strip()
    assert "--pooling cls" in err and "--pooling last" in err and "\n" not in err
