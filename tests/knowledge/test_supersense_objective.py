"""SenseBERT as an objective (issue 21): supersense input embeddings, the tied head, the
allowed-set loss on MLM-masked words, and config errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.config import load_config
from lmlab.embeddings.token_embedding import EmbeddingConfig, TokenEmbedding
from lmlab.errors import ConfigError
from lmlab.evaluation.supersense_accuracy import supersense_accuracy_of_run
from lmlab.knowledge.lexnames import LEXNAMES
from lmlab.objectives.supersense import SupersenseConfig, SupersenseObjective
from lmlab.presets import preset_path
from lmlab.registry import build_model
from lmlab.training.trainer import train

from test_lexical_relation import WordTokenizer


def test_token_features_add_their_vectors_to_the_input():
    config = EmbeddingConfig(vocab_size=3, hidden_size=2, position="none", dropout=0.0,
                             token_features=2)
    embedding = TokenEmbedding(config)
    with torch.no_grad():
        embedding.tokens.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        embedding.features.weight.copy_(torch.tensor([[10.0, 20.0], [100.0, 200.0]]))
        embedding.feature_table.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]))
    x = embedding(torch.tensor([[0, 1, 2]]))
    assert x.tolist() == [[[1.0, 0.0], [10.0, 21.0], [111.0, 221.0]]]
    assert "feature_table" in embedding.state_dict()  # the checkpoint keeps M


def _allowed(vocab_size: int) -> torch.Tensor:
    allowed = torch.zeros(vocab_size, 45, dtype=torch.bool)
    allowed[6, [LEXNAMES.index("noun.animal"), LEXNAMES.index("verb.motion")]] = True  # dog
    allowed[7, LEXNAMES.index("noun.artifact")] = True  # car
    return allowed


@pytest.fixture
def sensebert():
    tokenizer = WordTokenizer(["dog", "car", "the"])
    objective = SupersenseObjective(SupersenseConfig(), tokenizer, allowed=_allowed(9))
    config = load_config(preset_path("sensebert/tiny"), ["model.encoder.num_layers=1"])
    model = build_model(config.model, tokenizer.vocab_size, seed=0, objectives=[objective])
    objective.prepare(model, None)
    return model.eval(), objective


def test_prepare_fills_the_table_and_the_output_is_tied(sensebert):
    model, objective = sensebert
    assert torch.equal(model.embedding.feature_table, _allowed(9).float())
    assert model.heads["supersense"].decoder.weight is model.embedding.features.weight


def test_loss_is_eqs_3_and_4_on_the_masked_words(sensebert):
    model, objective = sensebert
    with torch.no_grad():  # uniform p(s | context) = 1/45
        model.heads["supersense"].decoder.weight.zero_()
    ids = torch.tensor([[3, 5, 5, 5, 4]])  # [CLS] [MASK] [MASK] [MASK] [SEP]
    labels = torch.tensor([[-100, 6, 7, 8, -100]])  # dog, car, the (no sense: ignored)
    output = objective.loss(model, {"input_ids": ids, "mlm_labels": labels})
    allowed = (-math.log(2 / 45) - math.log(1 / 45)) / 2  # eq. 3, mean over dog and car
    assert output.metrics["allowed_loss"] == pytest.approx(allowed, abs=1e-5)
    assert output.loss.item() == pytest.approx(allowed + math.log(45), abs=1e-5)  # + eq. 4
    assert output.metrics["words"] == 2
    assert 0.0 <= output.metrics["accuracy"] <= 1.0


def test_real_wordnet_rows(wordnet, monkeypatch):
    tokenizer = WordTokenizer(["dog", "##s", "the"])
    objective = SupersenseObjective(SupersenseConfig(), tokenizer)
    dog = {LEXNAMES[i] for i in objective.allowed[6].nonzero().squeeze(1).tolist()}
    assert dog == {"noun.animal", "noun.artifact", "noun.food", "noun.person", "verb.motion"}
    assert not objective.allowed[:6].any() and not objective.allowed[7].any()


@pytest.mark.parametrize("overrides, message", [
    (["objectives=[{name: supersense}, {name: mlm}]"], "put an mlm objective before it"),
    (["model.embedding.token_features=7"], "token_features: 45"),
])
def test_incompatible_runs_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(preset_path("sensebert/tiny"), overrides)
    assert "\n" not in str(error.value)


def config_overrides(corpus) -> list[str]:
    return [f"data.dataset={corpus}", "train.max_steps=2", "train.max_epochs=0",
            "train.eval_every=2", "train.checkpoint_every=2", "train.eval_batches=1",
            "train.progress=false", "data.seq_len=16", "data.batch_size=2"]


def test_held_out_supersense_accuracy_of_a_run(wordnet, tiny_corpus, tmp_path, capsys):
    config = load_config(preset_path("sensebert/tiny"), config_overrides(tiny_corpus))
    train(config, tmp_path / "run", log=lambda *_: None)
    assert main(["knowledge", "supersense", str(tmp_path / "run"), "--max-tokens", "500"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "head"
    assert result["words"] > 0 and 0.0 <= result["accuracy"] <= 1.0
    assert 0.0 < result["prior_accuracy"] <= 1.0
    # the head's measure refuses a run without the supersense objective in one line (the
    # command then uses the probe: tests/knowledge/test_supersense_probe.py)
    bert = load_config(preset_path("bert/tiny"), config_overrides(tiny_corpus))
    train(bert, tmp_path / "bert", log=lambda *_: None)
    with pytest.raises(ConfigError, match="not a SenseBERT run") as error:
        supersense_accuracy_of_run(str(tmp_path / "bert"))
    assert "\n" not in str(error.value)
