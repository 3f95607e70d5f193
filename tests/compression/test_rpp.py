"""Reweighted proximal pruning (Guo et al. 2019): the operator and the method."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.compression.pruning.rpp import ReweightedProximal, proximal_l1, reweight
from lmlab.errors import ConfigError
from lmlab.recipes.compress import method_settings


def test_proximal_operator_on_known_values():
    w = torch.tensor([0.5, -0.2, 0.05, -0.01, 0.0])
    assert proximal_l1(w, torch.tensor(0.1)).tolist() == pytest.approx(
        [0.4, -0.1, 0.0, 0.0, 0.0], abs=1e-7)
    alpha = reweight(w, 0.01)  # 1 / (|w| + 0.01)
    assert alpha.tolist() == pytest.approx([1 / 0.51, 1 / 0.21, 1 / 0.06, 1 / 0.02, 100.0])
    # threshold η γ α with η γ = 0.01: 0.5 -> 0.5 − 0.01/0.51, −0.2 -> −0.2 + 0.01/0.21,
    # 0.05 -> 0.05 − 0.01/0.06, below 0: the small weights go to 0
    assert proximal_l1(w, 0.01 * alpha).tolist() == pytest.approx(
        [0.5 - 0.01 / 0.51, -0.2 + 0.01 / 0.21, 0.0, 0.0, 0.0], abs=1e-7)


def test_the_proximal_step_follows_each_optimizer_step():
    weight = torch.nn.Parameter(torch.tensor([[0.5, -0.2], [0.05, 1.0]]))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    proximal = ReweightedProximal({"w": weight}, gamma=0.1, epsilon=0.0, every=1)
    with proximal.active():
        weight.grad = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        optimizer.step()  # w = [0.4, −0.2, 0.05, 1.0], then threshold 0.01 / |w|
    expected = [0.4 - 0.01 / 0.4, -0.2 + 0.01 / 0.2, 0.05 - 0.01 / 0.05, 1.0 - 0.01]
    assert weight.detach().flatten().tolist() == pytest.approx(
        [max(0, e) if i != 1 else e for i, e in enumerate(expected)], abs=1e-6)
    weight.grad = torch.zeros(2, 2)
    optimizer.step()  # the hook is gone: SGD alone, nothing changes
    assert proximal.steps == 1


def test_rpp_compresses_a_run(finetuned_run, tmp_path):
    out = tmp_path / "rpp"
    assert main(["compress", str(finetuned_run), "--method", "rpp", "--set", "epochs=0.5",
                 "--set", "batch_size=16", "--set", "sparsity=0.6", "--set", "gamma=0.5",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    masks = load_file(str(out / "masks.safetensors"))
    assert all(name.startswith("backbone.encoder.") for name in masks)
    kept = sum(int(m.sum()) for m in masks.values())
    assert kept == sum(m.numel() for m in masks.values()) - int(0.6 * sum(
        m.numel() for m in masks.values()))
    assert summary["zero_after_proximal"] > 0 and "masked_dev" in summary


def test_bad_rpp_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="--set gamma=0"):
        method_settings("rpp", {"gamma": 0})
    with pytest.raises(ConfigError, match="--set reweight_every=0"):
        method_settings("rpp", {"reweight_every": 0})
    with pytest.raises(ConfigError, match="--sparsity"):
        method_settings("rpp", {"sparsity": 1.5})
