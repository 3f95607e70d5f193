"""Magnitude pruning (Han et al. 2015; Gordon et al. 2020): exactly the smallest |w| go."""

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from lmlab.cli import main
from lmlab.compression.pruning.magnitude import (keep_pruned, magnitude_masks, prune_magnitude,
                                                  sparse_bits)
from lmlab.errors import ConfigError
from lmlab.finetune.run_folder import load_finetuned

# Matrix a holds small weights, b large ones: a global threshold takes mostly a's.
A = torch.tensor([[0.1, -0.2], [0.3, -0.4]])
B = torch.tensor([[1.0, -2.0], [3.0, 0.05]])


def test_per_matrix_prunes_the_smallest_of_each_matrix():
    masks = magnitude_masks({"a": A, "b": B}, 0.5, "matrix")
    assert masks["a"].tolist() == [[False, False], [True, True]]
    assert masks["b"].tolist() == [[False, True], [True, False]]


def test_global_prunes_the_smallest_of_all_matrices():
    masks = magnitude_masks({"a": A, "b": B}, 0.5, "global")  # 4 of 8: .05, .1, .2, .3
    assert masks["a"].tolist() == [[False, False], [False, True]]
    assert masks["b"].tolist() == [[True, True], [True, False]]


def test_ties_are_broken_by_position_to_the_exact_count():
    masks = magnitude_masks({"w": torch.ones(2, 3)}, 0.5, "matrix")
    assert masks["w"].tolist() == [[False, False, False], [True, True, True]]


def test_prune_zeroes_weights_and_keeps_biases_and_zeros_survive_a_step():
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(1.0, 13.0).view(3, 4))
    masks = prune_magnitude(layer, 0.25, "global")  # floor(.25 * 12) = 3: 1, 2, 3
    assert layer.weight.flatten().tolist() == [0, 0, 0] + list(range(4, 13))
    assert int((layer.bias != 0).sum()) == 3
    keep_pruned(layer, masks)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1, weight_decay=0.01)
    layer(torch.ones(2, 4)).pow(2).sum().backward()
    optimizer.step()
    assert layer.weight.flatten()[:3].tolist() == [0, 0, 0]
    assert bool((layer.weight.flatten()[3:] != torch.arange(4.0, 13.0)).all())
    assert sparse_bits(layer, masks) == 12 + 9 * 32 + 3 * 32  # bitmap + kept + biases


def test_zero_sparsity_keeps_everything():
    masks = magnitude_masks({"a": A}, 0.0, "global")
    assert bool(masks["a"].all())


@pytest.mark.parametrize("sparsity", [1.0, -0.1, 1.5])
def test_sparsity_outside_zero_one_is_refused(sparsity):
    with pytest.raises(ConfigError, match="--sparsity"):
        magnitude_masks({"a": A}, sparsity, "global")


def test_magnitude_then_fine_tuning_keeps_the_pruned_weights_at_zero(finetuned_run, tmp_path):
    out = tmp_path / "p"
    assert main(["compress", str(finetuned_run), "--method", "magnitude", "--set", "sparsity=0.5",
                 "--set", "finetune_epochs=0.5", "--out", str(out)]) == 0
    summary = json.loads((out / "compression.json").read_text())
    assert summary["finetune"]["stage"] == "finetune" and summary["finetune"]["history"]
    masks = load_file(str(out / "masks.safetensors"))
    _, _, pruned = load_finetuned(out)
    parameters = dict(pruned.named_parameters())
    _, _, original = load_finetuned(finetuned_run)
    before = dict(original.named_parameters())
    changed = 0
    for name, mask in masks.items():
        assert torch.equal(parameters[name][mask == 0], torch.zeros(int((mask == 0).sum())))
        changed += int((parameters[name][mask == 1] != before[name][mask == 1]).sum())
    assert changed > 0  # the kept weights did train
    assert summary["nonzero_params"] <= summary["nonzero_params_before"] - sum(
        int((m == 0).sum()) for m in masks.values())
