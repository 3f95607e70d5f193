"""Structured FFN-neuron pruning (McCarley 2019) and the post-training pruning methods."""

import copy

import pytest
import torch

from lmlab.compression.method import Source
from lmlab.compression.pruning.neurons import (check_neurons, feed_forwards, neuron_importance,
                                               remove_neurons)
from lmlab.errors import ConfigError
from lmlab.finetune.post_training import FFN, HEADS
from lmlab.finetune.run_folder import load_finetuned, save_finetuned

from test_head_pruning import _batch, _loss, _model

KEEP = [torch.arange(24) % 3 != 0, torch.zeros(24, dtype=torch.bool), torch.arange(24) < 5]


def test_removed_neurons_give_the_masked_models_outputs():
    _, model = _model()
    pruned = copy.deepcopy(model)
    for module, keep in zip(feed_forwards(model), KEEP):
        module.neuron_gate = keep.float()
    with torch.no_grad():
        masked = model(_batch())
    assert remove_neurons(pruned, KEEP) == [16, 0, 5]
    with torch.no_grad():
        assert torch.allclose(pruned(_batch()), masked, atol=1e-6, rtol=0)
    removed = (8 + 24 + 19) * (32 + 1 + 32)  # per neuron: a W_1 row, its b_1, a W_2 column
    assert sum(p.numel() for p in model.parameters()) - \
        sum(p.numel() for p in pruned.parameters()) == removed


def test_neuron_importance_is_the_gate_gradient():
    _, model = _model(torch.float64)
    scores = neuron_importance(model, [_batch()], _loss, normalize=False)
    ffn = feed_forwards(model)[1]
    epsilon, neuron = 1e-6, 7
    values = []
    for sign in (1, -1):
        gate = torch.ones(24, dtype=torch.float64)
        gate[neuron] += sign * epsilon
        ffn.neuron_gate = gate
        with torch.no_grad():
            values.append(float(_loss(model, _batch())))
    ffn.neuron_gate = None
    assert float(scores[1][neuron]) == pytest.approx(abs(values[0] - values[1]) / (2 * epsilon),
                                                     rel=1e-6)


@pytest.mark.parametrize("method, field", [(HEADS, "heads_per_layer"), (FFN, "ffn_per_layer")])
def test_methods_prune_a_run_that_reloads(method, field, finetuned_run, tmp_path):
    config, tokenizer, model = load_finetuned(finetuned_run)
    settings = method.settings({"fraction": 0.5, "step": 0.25, "examples": 16,
                                "batch_size": 8})
    result = method.compress(Source(finetuned_run, config, tokenizer, model, tmp_path),
                             settings)
    counts = getattr(result.config.model.encoder, field)
    total = 2 * (2 if field == "heads_per_layer" else 512)  # bert/tiny: 2 layers, 2 heads
    assert sum(counts) == total - total // 2 and result.summary[field] == counts
    assert result.size_bits == 32 * sum(p.numel() for p in result.model.parameters())
    save_finetuned(tmp_path, result.model, result.config, tokenizer, {})
    _, _, loaded = load_finetuned(tmp_path)
    assert getattr(loaded.backbone.encoder.config, field) == counts
    for a, b in zip(loaded.state_dict().values(), result.model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("given, message", [({"fraction": 2}, "fraction"),
                                            ({"examples": -1}, "examples"),
                                            ({"batch_size": 0}, "batch_size"),
                                            ({"nonsense": 1}, "not a setting")])
def test_bad_settings_are_one_line_errors(given, message):
    with pytest.raises(ConfigError, match=message):
        FFN.settings(given)
    with pytest.raises(ConfigError, match="step"):
        check_neurons(0.5, 0)


def test_compress_heads_then_evaluate_and_predict_from_the_cli(finetuned_run, tmp_path, capsys):
    import json

    from lmlab.cli import main

    out = tmp_path / "heads"
    assert main(["compress", str(finetuned_run), "--method", "heads", "--set", "fraction=0.5",
                 "--set", "examples=16", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert sum(summary["heads_per_layer"]) == 2 and summary["params"] < summary["params_before"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 71  # WNLI dev
    lines = tmp_path / "in.txt"
    lines.write_text("the cat sat .\tit sat .\n")
    assert main(["predict", str(out), "--input", str(lines), "--out", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p").read_text().strip() in ("0", "1")
