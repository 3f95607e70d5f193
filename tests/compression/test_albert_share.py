"""The ALBERT sharing row: a fine-tuned teacher's layers tied into one (Lan et al. 2020)."""

import json

import pytest
import torch

from lmlab.cli import main
from lmlab.errors import ConfigError
from lmlab.finetune.run_folder import load_finetuned
from lmlab.finetune.sharing import shared_layer
from lmlab.recipes.compress import method_settings


def test_the_shared_layer_is_the_mean_of_the_teachers(finetuned_run):
    _, _, model = load_finetuned(finetuned_run)
    layers = model.backbone.encoder.layers
    mean = shared_layer(layers, "mean")
    a, b = (dict(layer.named_parameters()) for layer in layers)
    for name, parameter in mean.named_parameters():
        assert torch.equal(parameter, (a[name] + b[name]) / 2), name
    second = shared_layer(layers, 2)
    assert all(torch.equal(p, b[n]) for n, p in second.named_parameters())
    assert second is not layers[1]


def test_albert_share_compresses_a_run(finetuned_run, tmp_path, capsys):
    out = tmp_path / "shared"
    assert main(["compress", str(finetuned_run), "--method", "albert_share", "--set",
                 "epochs=0.5", "--set", "batch_size=16", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    _, _, teacher = load_finetuned(finetuned_run)
    config, _, model = load_finetuned(out)
    layers = model.backbone.encoder.layers
    assert config.model.encoder.share_layers == "all" and len(layers) == 2
    assert layers[0].attention.qkv.weight is layers[1].attention.qkv.weight
    per_layer = sum(p.numel() for p in teacher.backbone.encoder.layers[0].parameters())
    assert summary["params"] == summary["params_before"] - per_layer
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        summary["student"]["dev"]["accuracy"], abs=0.01)


def test_bad_sharing_settings_are_one_line_errors(finetuned_run, tmp_path):
    with pytest.raises(ConfigError, match="--set student_layers=-1"):
        method_settings("albert_share", {"student_layers": -1})
    with pytest.raises(ConfigError, match="--set init=5: expected mean or a teacher layer 1..2"):
        from lmlab.recipes.compress import compress_run
        compress_run(str(finetuned_run), "albert_share", str(tmp_path / "x"), {"init": 5})
