"""L0 gates on heads (Voita et al. 2019; hard concrete, Louizos et al. 2018)."""

import copy
import json
import math

import pytest
import torch

from lmlab.cli import main
from lmlab.compression.pruning.heads import attentions
from lmlab.compression.pruning.l0 import (HeadGates, deterministic_gate, expected_l0,
                                          fold_and_remove, hard_concrete_sample)
from lmlab.errors import ConfigError
from lmlab.finetune.run_folder import load_finetuned
from lmlab.recipes.compress import method_settings

from test_head_pruning import _batch, _model


def test_hard_concrete_at_known_draws():
    # u = 1/2: s = σ(log α / β); log α = 0 -> s = 1/2, s̄ = 0.5 · 1.2 − 0.1 = 0.5
    z = hard_concrete_sample(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.5, 1e-6, 1 - 1e-6]))
    assert z.tolist() == pytest.approx([0.5, 0.0, 1.0], abs=1e-7)
    # u = σ(1) (logit 1), log α = −2, β = 2/3: s = σ(−1.5), s̄ = 1.2 σ(−1.5) − 0.1
    z = hard_concrete_sample(torch.tensor([-2.0]), torch.sigmoid(torch.tensor([1.0])))
    assert z.item() == pytest.approx(1.2 / (1 + math.exp(1.5)) - 0.1, abs=1e-6)


def test_gate_distribution_matches_the_closed_form():
    # P(z = 0) = σ(−β log 11 − log α), P(z = 1) = σ(log α − β log 11), P(z ≠ 0) (eq. 12)
    # = σ(log α + β log 11); log α = 0.5, 400k draws
    log_alpha = torch.full((400_000,), 0.5)
    u = torch.rand(400_000, generator=torch.Generator().manual_seed(0)).clamp(1e-6, 1 - 1e-6)
    z = hard_concrete_sample(log_alpha, u)
    beta = 2 / 3
    closed, open_ = 1 / (1 + math.exp(beta * math.log(11) + 0.5)), \
        1 / (1 + math.exp(beta * math.log(11) - 0.5))
    assert (z == 0).float().mean().item() == pytest.approx(closed, abs=0.003)
    assert (z == 1).float().mean().item() == pytest.approx(open_, abs=0.003)
    assert expected_l0(torch.tensor(0.5)).item() == pytest.approx(1 - closed, abs=1e-6)
    # test time (eq. 13): σ(0)·1.2 − 0.1 = 0.5; log α >= log 11 fully open; very low closed
    assert deterministic_gate(torch.tensor([0.0, math.log(11), -5.0])).tolist() == \
        pytest.approx([0.5, 1.0, 0.0], abs=1e-6)


def test_removed_heads_equal_the_gated_original():
    _, model = _model()
    gates = [torch.tensor([0.0, 0.7, 1.0, 0.0]), torch.tensor([0.0, 0.0, 0.0, 0.0]),
             torch.tensor([1.0, 0.25, 1.0, 0.5])]
    pruned = copy.deepcopy(model)
    for module, gate in zip(attentions(model), gates):
        module.head_gate = gate
    with torch.no_grad():
        gated = model(_batch())
    assert fold_and_remove(pruned, gates) == [2, 0, 4]
    with torch.no_grad():
        assert torch.allclose(pruned(_batch()), gated, atol=1e-6, rtol=0)


def test_gates_sample_in_training_and_are_fixed_in_eval():
    _, model = _model()
    gates = HeadGates([4, 4, 4], init=0.0)
    model.l0_gates = gates
    hooks = gates.attach(model)
    model.train()
    model(_batch())
    sampled = attentions(model)[0].head_gate
    assert sampled.requires_grad and ((sampled >= 0) & (sampled <= 1)).all()
    model.eval()
    model(_batch())
    assert attentions(model)[0].head_gate.tolist() == pytest.approx([0.5] * 4)
    penalty = gates.penalty()
    penalty.backward()
    assert penalty.item() == pytest.approx(12 * expected_l0(torch.tensor(0.0)).item(), rel=1e-6)
    assert gates.theta[0].grad is not None
    for hook in hooks:
        hook.remove()


def test_l0_heads_compresses_a_run(finetuned_run, tmp_path, capsys):
    out = tmp_path / "l0"
    assert main(["compress", str(finetuned_run), "--method", "l0_heads", "--set", "epochs=0.5",
                 "--set", "batch_size=16", "--set", "fraction=0.5", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert sum(summary["heads_per_layer"]) == 2  # bert/tiny: 2 layers x 2 heads, half removed
    _, _, model = load_finetuned(out)
    assert [m.num_heads for m in attentions(model)] == summary["heads_per_layer"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "dev"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 71


def test_bad_l0_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="--set penalty=-1"):
        method_settings("l0_heads", {"penalty": -1})
    with pytest.raises(ConfigError, match="--set temperature=0"):
        method_settings("l0_heads", {"temperature": 0})
    with pytest.raises(ConfigError, match="--set gate_lr=0"):
        method_settings("l0_heads", {"gate_lr": 0})
    with pytest.raises(ConfigError, match="--set fraction"):
        method_settings("l0_heads", {"fraction": 2})
