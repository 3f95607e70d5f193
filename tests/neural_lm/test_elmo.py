"""ELMo (Peters et al. 2018): the char-CNN token encoder with highway layers (§3.4; Kim et al.
2016), the biLM objective whose backward half reads the block reversed (§3.1), the scalar
mix (§3.2) and the elmo/tiny preset's command-line path. Training, evaluation and exact
resume of the preset: tests/smoke/test_presets.py and tests/training/test_resume.py."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lmlab.cli import main
from lmlab.config import load_config
from lmlab.embeddings.char_cnn import (BEGIN_WORD, END_WORD, CharCNNConfig, CharCNNEmbedding,
                                       Highway, spell, spell_sentences)
from lmlab.embeddings.token_embedding import EmbeddingConfig
from lmlab.errors import ConfigError
from lmlab.finetune.model import build_finetune_model
from lmlab.layers.scalar_mix import ScalarMix
from lmlab.objectives.base import EvaluationSettings
from lmlab.objectives.bilm import BiLMConfig, BiLMObjective
from lmlab.presets import preset_path
from lmlab.registry import build_model
from lmlab.serve.models import load_neural
from lmlab.training.trainer import train

V = 30
SMALL = ["model.embedding.hidden_size=16", "model.encoder.cell_size=24",
         "model.embedding.dropout=0.0", "model.encoder.dropout=0.0",
         "model.embedding.char_cnn.filters=[[1, 4], [2, 4], [3, 8]]",
         "model.embedding.char_cnn.max_word_length=8"]
WORDS = [f"w{i}" for i in range(V)]


def _embedding(hidden=16, **cnn) -> CharCNNEmbedding:
    cnn = {"filters": [[1, 4], [2, 4], [3, 8]], "max_word_length": 8, **cnn}
    config = EmbeddingConfig(vocab_size=V, hidden_size=hidden, position="none", dropout=0.0,
                             char_cnn=CharCNNConfig(**cnn))
    torch.manual_seed(0)
    return CharCNNEmbedding(config).eval()


def test_spelling_is_utf8_bytes_between_word_marks_and_long_words_are_truncated_and_counted():
    assert spell("ab", 6) == ([BEGIN_WORD, 98, 99, END_WORD, 0, 0], False)
    assert spell("é", 5) == ([BEGIN_WORD, 0xC3 + 1, 0xA9 + 1, END_WORD, 0], False)  # 2 bytes
    assert spell("abcdef", 5) == ([BEGIN_WORD, 98, 99, 100, END_WORD], True)  # keeps W - 2
    chars, truncated = spell_sentences([["ab", "abcdef"], ["x"]], 5)
    assert chars.shape == (2, 2, 5) and truncated == 1
    assert chars[1, 1].tolist() == [0] * 5  # the padding word


def test_vocabulary_table_counts_truncated_words_and_warns(capsys):
    embedding = _embedding(max_word_length=5)
    words = ["abc", "abcd", *WORDS[2:]]
    assert embedding.spell_vocabulary(words) == 1  # "abcd": 4 bytes > W - 2 = 3
    assert "1 of 30 vocabulary words are longer than 3 bytes" in capsys.readouterr().err
    assert embedding.word_chars[0].tolist() == [BEGIN_WORD, 98, 99, 100, END_WORD]


def test_char_cnn_shapes_and_word_ids_equal_their_spelling():
    embedding = _embedding()
    embedding.spell_vocabulary(WORDS)
    ids = torch.tensor([[3, 7, 3], [0, 29, 12]])  # (B, T)
    x = embedding(ids)
    assert x.shape == (2, 3, 16)
    spelled = embedding.spell([[WORDS[i] for i in row] for row in ids.tolist()])  # (B, T, W)
    assert spelled.shape == (2, 3, 8)
    torch.testing.assert_close(embedding(spelled), x, rtol=0, atol=1e-6)
    torch.testing.assert_close(x[0, 0], x[0, 2], rtol=0, atol=0)  # the same word, once


def test_max_pool_over_the_word_by_hand():
    """char_dim 1, character vector = id / 100, one width-1 filter of weight 1, no highway,
    identity projection: the word vector is max over its characters of id / 100, the end
    mark (258) included: 2.58 for any word of bytes below 257."""
    embedding = _embedding(hidden=1, char_dim=1, filters=[[1, 1]], highway_layers=0)
    with torch.no_grad():
        embedding.characters.weight.copy_(torch.arange(259.0)[:, None] / 100)
        embedding.convolutions[0].weight.fill_(1.0)
        embedding.convolutions[0].bias.zero_()
        embedding.projection.weight.fill_(1.0)
        embedding.projection.bias.zero_()
        x = embedding(embedding.spell([["ab", "z"]]))
    assert x.flatten().tolist() == pytest.approx([2.58, 2.58], abs=1e-6)
    with torch.no_grad():
        embedding.convolutions[0].weight.fill_(-1.0)  # relu(-id/100) = 0 everywhere but padding
        assert embedding(embedding.spell([["ab"]])).flatten().tolist() == [0.0]


def test_highway_gate_closed_carries_the_input_open_gives_the_transform():
    highway = Highway(2, num_layers=1, gate_bias=-2.0)
    assert highway.gates[0].bias.tolist() == [-2.0, -2.0]  # Srivastava et al.: start carrying
    y = torch.tensor([[1.0, 2.0]])
    with torch.no_grad():
        highway.transforms[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        highway.transforms[0].bias.copy_(torch.tensor([0.5, 0.0]))
        highway.gates[0].weight.zero_()
        highway.gates[0].bias.fill_(-1e4)  # g = 0: z = y
        assert highway(y).tolist() == [[1.0, 2.0]]
        highway.gates[0].bias.fill_(1e4)  # g = 1: z = relu(W y + b) = relu([1.5, -2])
        assert highway(y).tolist() == [[1.5, 0.0]]
        highway.gates[0].bias.fill_(0.0)  # g = 1/2: the average of both
        assert highway(y).tolist() == [[1.25, 1.0]]


def _config(*overrides):
    return load_config(preset_path("elmo/tiny"), [*SMALL, *overrides])


def _model(*overrides):
    config = _config(*overrides)
    objective = BiLMObjective(BiLMConfig(), None, seed=0)  # full softmax
    model = build_model(config.model, V, seed=0, objectives=[objective], vocabulary=WORDS)
    return model.eval(), objective


def test_build_model_keeps_the_negative_gate_bias_and_the_table_travels_with_the_weights():
    model, _ = _model()
    for gate in model.embedding.highway.gates:  # after the model-wide uniform init
        assert torch.all(gate.bias == -2.0)
    fresh, _ = _model()
    fresh.embedding.word_chars.zero_()  # as a model built to load a checkpoint
    fresh.load_state_dict(model.state_dict())
    ids = torch.tensor([[5, 9, 11]])
    torch.testing.assert_close(fresh(ids).hidden, model(ids).hidden, rtol=0, atol=0)
    assert "embedding.word_chars" in model.state_dict()


def _block(seq):
    return {"input_ids": seq[:, :-1], "labels": seq[:, 1:]}


def test_backward_lm_reads_the_block_reversed():
    """With the backward stack given the forward stack's weights, the backward LM's loss on
    a block is the forward LM's loss on the reversed block (and vice versa). Were both
    directions to read left to right, backward(x) would predict x_{k-1} from x_0..x_k."""
    model, objective = _model()
    model.encoder.backward_layers.load_state_dict(model.encoder.forward_layers.state_dict())
    seq = torch.randint(6, V, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ahead = objective.loss(model, _block(seq)).metrics
        reversed_ = objective.loss(model, _block(seq.flip(1))).metrics
    assert ahead["backward_loss"] == pytest.approx(reversed_["forward_loss"], abs=1e-6)
    assert ahead["forward_loss"] == pytest.approx(reversed_["backward_loss"], abs=1e-6)
    assert ahead["forward_loss"] != pytest.approx(ahead["backward_loss"], abs=1e-3)
    assert ahead["loss"] == pytest.approx(0.5 * (ahead["forward_loss"] + ahead["backward_loss"]))


def test_each_direction_predicts_its_neighbour_through_the_one_softmax():
    """Exact value: the forward loss is the mean of -log softmax(W h→_k + b)[t_{k+1}], the
    backward loss of -log softmax(W h←_k + b)[t_{k-1}], with the same W, b."""
    model, objective = _model()
    seq = torch.randint(6, V, (1, 6), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        metrics = objective.loss(model, _block(seq)).metrics
        forward, backward = model(seq).hidden.chunk(2, dim=-1)  # (1, 6, D) each
        log_probs = lambda h: torch.log_softmax(model.lm_head(h), dim=-1)  # noqa: E731
        expected_forward = -log_probs(forward[0, :-1]).gather(1, seq[0, 1:, None]).mean()
        expected_backward = -log_probs(backward[0, 1:]).gather(1, seq[0, :-1, None]).mean()
    assert metrics["forward_loss"] == pytest.approx(expected_forward.item(), abs=1e-5)
    assert metrics["backward_loss"] == pytest.approx(expected_backward.item(), abs=1e-5)


def test_held_out_windows_score_every_token_once_per_direction():
    model, objective = _model()
    ids = np.random.default_rng(0).integers(6, V, 18)
    settings = EvaluationSettings(seq_len=5, batch_size=2, stride=None)
    batches = list(objective.evaluation_batches(model, ids, settings))
    # Windows start at 0, 5, 10, 15: [0..5], [5..10], [10..15], [15..17] (padded to 6).
    assert [b["tokens"].shape for b in batches] == [(2, 6), (2, 6)]
    assert batches[0]["tokens"][1].tolist() == ids[5:11].tolist()
    assert batches[-1]["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    totals = {}
    with torch.no_grad():
        for batch in batches:
            for key, value in objective.evaluate(model, batch).items():
                totals[key] = totals.get(key, 0) + value
    assert totals["tokens"] == 17  # N - 1 in each direction
    # The padded window scores what the same window alone scores.
    last = {key: value[1:] for key, value in batches[-1].items()}
    with torch.no_grad():
        alone = objective.evaluate(model, {"tokens": torch.from_numpy(ids[15:])[None]})
        padded = objective.evaluate(model, last)
    assert padded["tokens"] == alone["tokens"] == 2
    assert padded["forward_nll"] == pytest.approx(alone["forward_nll"], abs=1e-5)
    assert padded["backward_nll"] == pytest.approx(alone["backward_nll"], abs=1e-5)
    summary = objective.summarize(totals)
    forward = math.exp(totals["forward_nll"] / 17)
    backward = math.exp(totals["backward_nll"] / 17)
    assert summary["forward_perplexity"] == pytest.approx(forward)
    assert summary["backward_perplexity"] == pytest.approx(backward)
    assert summary["perplexity"] == pytest.approx((forward + backward) / 2)
    assert summary["kind"] == "bilm"
    with pytest.raises(ConfigError, match="--stride: a biLM's held-out windows are fixed"):
        next(objective.evaluation_batches(model, ids, EvaluationSettings(seq_len=5, stride=2)))


def test_scalar_mix_weights_sum_to_one_and_equal_scalars_give_gamma_times_the_mean():
    mix = ScalarMix(3, initial_gamma=2.0)
    layers = [torch.full((1, 2, 4), value) for value in (1.0, 2.0, 6.0)]
    assert mix.weights().sum().item() == pytest.approx(1.0)
    assert torch.allclose(mix(layers), torch.full((1, 2, 4), 2.0 * 3.0))  # γ · mean
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.0, math.log(3.0), 0.0]))  # s = (1/5, 3/5, 1/5)
    assert mix.weights().tolist() == pytest.approx([0.2, 0.6, 0.2])
    assert mix.weights().sum().item() == pytest.approx(1.0)
    assert torch.allclose(mix(layers), torch.full((1, 2, 4), 2.0 * (0.2 + 1.2 + 1.2)))
    with pytest.raises(ValueError, match="weighs 3 layers, got 2"):
        mix(layers[:2])


def test_scalar_mix_penalty_is_the_squared_norm_of_its_scalars():
    """ELMo §3.3's λ‖w‖²: the penalty the feature-based task loss adds (mix_penalty)."""
    mix = ScalarMix(3)
    assert mix.penalty().item() == 0.0  # equal weights at the start
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([1.0, -2.0, 0.5]))
    assert mix.penalty().item() == 5.25
    mix.penalty().backward()
    assert mix.scalars.grad.tolist() == [2.0, -4.0, 1.0]


def test_scalar_mix_layer_norm_normalises_each_layer_over_real_positions():
    mix = ScalarMix(2, layer_norm=True)
    layers = [torch.randn(2, 3, 4) * 5 + 3, torch.randn(2, 3, 4)]
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out = mix(layers, mask)  # mean of two normalised layers
    real = out[mask.bool()]  # (5, 4)
    assert real.mean().item() == pytest.approx(0.0, abs=1e-5)


def test_bad_configs_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"model.lm_head.tie_weights: a char-CNN embedding"):
        _config("model.lm_head.tie_weights=true")
    with pytest.raises(ConfigError, match=r"model.embedding.char_cnn: a char-CNN embedding has "
                                          r"no position"):
        _config("model.embedding.position=learned")
    with pytest.raises(ConfigError, match=r"char_cnn.max_word_length: must be >= 3 .* widest "
                                          r"filter \(3\), got 2"):
        _config("model.embedding.char_cnn.max_word_length=2")
    with pytest.raises(ConfigError, match=r"objectives\[0\]: bilm needs the bilstm encoder.*"
                                          r"not transformer"):
        load_config(preset_path("gpt/tiny"), ["objectives=[{name: bilm}]"])
    with pytest.raises(ConfigError, match=r"output.kind: bilm trains the full softmax or a "
                                          r"sampled one"):
        _config("objectives=[{name: bilm, output: {kind: hierarchical}}]")


@pytest.fixture(scope="module")
def elmo_run(tiny_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("elmo") / "run"
    config = load_config(preset_path("elmo/tiny"), [
        *SMALL, f"data.dataset={tiny_corpus}", "data.seq_len=10", "data.batch_size=4",
        "train.max_steps=2", "train.eval_every=2", "train.eval_batches=2",
        "train.checkpoint_every=2", "train.progress=false", "data.eval_batch_size=4"])
    train(config, folder, log=lambda *_: None)
    return folder


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lmlab: error: "), err
    return err


def test_eval_perplexity_prints_both_directions_and_generate_is_refused(elmo_run, capsys):
    assert main(["eval", "perplexity", str(elmo_run), "--split", "test",
                 "--max-tokens", "200"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kind"] == "bilm" and result["tokens"] == 199
    assert result["perplexity"] == pytest.approx(
        (result["forward_perplexity"] + result["backward_perplexity"]) / 2)
    error = _one_line_error(["generate", str(elmo_run), "--prompt", "the"], capsys)
    assert "is a bidirectional LM" in error


def test_hf_export_says_elmo_has_no_transformers_counterpart(elmo_run, tmp_path, capsys):
    pytest.importorskip("transformers")
    error = _one_line_error(["convert", str(elmo_run), "--to", "hf", str(tmp_path / "hf")],
                            capsys)
    assert "elmo model (bilstm encoder) has no HF transformers counterpart" in error


def test_served_elmo_embeds_and_offers_no_scoring_or_generation(elmo_run):
    served = load_neural("elmo", elmo_run)
    assert served.kind == "bidirectional-lm" and list(served.handlers) == ["embed"]
    (result,) = served.handlers["embed"](["the company said"], SimpleNamespace(neighbors=0))
    assert result["dimensions"] == 32 and result["tokens"] == 3  # [h→ ; h←], 2 x 16


def test_finetuned_elmo_reads_both_directions():
    """A fine-tuning head reads the encoder's [forward ; backward] width (2D)."""
    config = load_config(preset_path("elmo/tiny"), SMALL)
    backbone = build_model(config.model, V, seed=0)
    options = SimpleNamespace(pooling="mean", dropout=0.0, label_smoothing=0.0)
    model = build_finetune_model(backbone, "classification", 2, options)
    batch = {"input_ids": torch.tensor([[3, 4, 5]]), "attention_mask": torch.ones(1, 3),
             "segments": None}
    assert model(batch).shape == (1, 2)
