"""Q-BERT (Shen et al. 2020): Hessian power iteration, group-wise quantization, mixed bits."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmlab.compression.quantization.hessian import layer_sensitivities, top_eigenvalue
from lmlab.compression.quantization.qbert import (assign_bits, check_qbert, group_bits,
                                                  quantize_groups, quantize_qbert)
from lmlab.errors import ConfigError


def _mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    return model, x, y


def _exact_top(model, x, y, index):
    """The eigenvalue of largest magnitude of the Hessian of layer ``index``'s weight and
    bias, from torch.autograd.functional.hessian on the flattened block."""
    layer = model[index]
    shapes = [layer.weight.shape, layer.bias.shape]
    flat = torch.cat([layer.weight.detach().flatten(), layer.bias.detach().flatten()])

    def loss(theta):
        weight, bias = theta[:shapes[0].numel()].view(shapes[0]), theta[shapes[0].numel():]
        h = x
        for position, module in enumerate(model):
            if position == index:
                h = F.linear(h, weight, bias)
            else:
                h = module(h)
        return F.cross_entropy(h, y)

    eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat))
    return float(eigenvalues[eigenvalues.abs().argmax()])


@pytest.mark.parametrize("index", [0, 2])
def test_power_iteration_matches_the_full_hessian_on_a_tiny_mlp(index):
    model, x, y = _mlp()
    block = [model[index].weight, model[index].bias]
    value = top_eigenvalue(F.cross_entropy(model(x), y), block, iterations=500,
                           tolerance=1e-12, generator=torch.Generator().manual_seed(0))
    assert value == pytest.approx(_exact_top(model, x, y, index), rel=1e-6)


def test_sensitivity_is_abs_mean_plus_std_over_batches():
    model, x, y = _mlp()
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]

    def loss_of(m, batch):
        return F.cross_entropy(m(batch[0]), batch[1])

    result = layer_sensitivities(model, [[model[2].weight, model[2].bias]], batches, loss_of,
                                 iterations=500, tolerance=1e-12)[0]
    a, b = result["eigenvalues"]
    assert result["omega"] == pytest.approx(abs((a + b) / 2) + abs(a - b) / 2 ** 0.5, rel=1e-9)


def test_group_quantization_known_values():
    weight = torch.tensor([[0.0, 0.1, 0.3], [0.2, 0.9, 0.6], [-1.0, 0.0, 1.0], [5.0, 5.0, 5.0]])
    # groups of rows [0, 1], [2], [3]: tensor_split(4, 3) gives sizes 2, 1, 1
    quantized = quantize_groups(weight, 2, 3)  # 2 bits: 4 levels per group
    # group 1: [0, 0.9], step 0.3 -> 0.1 -> 0, 0.2 -> 0.3, 0.6 -> 0.6 (levels 0, .3, .6, .9)
    assert quantized[:2].flatten().tolist() == pytest.approx([0.0, 0.0, 0.3, 0.3, 0.9, 0.6],
                                                           abs=1e-6)
    # group 2: [-1, 1], step 2/3: 0 -> round(1.5) = 2 (half to even) -> 1/3
    assert quantized[2].tolist() == pytest.approx([-1.0, 1 / 3, 1.0], abs=1e-6)
    assert quantized[3].tolist() == [5.0, 5.0, 5.0]  # a constant group is exact
    assert group_bits(weight, 2, 3) == 12 * 2 + 3 * 64


def test_as_many_levels_as_distinct_values_is_lossless():
    weight = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert torch.equal(quantize_groups(weight, 2, 1), weight)


def test_more_sensitive_layers_get_more_bits():
    assert assign_bits([5.0, 0.1, 2.0, 9.0], [8, 4]) == [8, 4, 4, 8]
    assert assign_bits([3.0, 1.0, 2.0], [2, 4, 8]) == [8, 2, 4]
    assert assign_bits([1.0, 1.0], [4, 8]) == [4, 8]  # ties by depth


def test_quantize_qbert_sizes_and_leaves_the_rest():
    model = nn.Sequential(nn.Embedding(5, 2), nn.Linear(2, 4), nn.Linear(4, 2), nn.Linear(2, 2))
    head = model[3].weight.detach().clone()
    bits = quantize_qbert(model, [model[1], model[2]], [8, 4], model[0], 8, groups=2)
    assert torch.equal(model[3].weight, head)  # the head is not an encoder layer: fp32
    assert len(torch.unique(model[2].weight[:1])) <= 16  # one row group of a 4-bit matrix
    expected = (10 * 8 + 2 * 64) + (8 * 8 + 2 * 64) + (8 * 4 + 2 * 64) + 4 * 32 + \
        (4 + 2 + 2) * 32  # embedding, two layers, head weight, biases
    assert bits == expected


@pytest.mark.parametrize("bits, embedding_bits, groups, message", [
    ([4, 9], 8, 1, "bits"), (4, 8, 1, "bits"), ([4], 9, 1, "embedding_bits"),
    ([4], 8, 0, "groups")])
def test_bad_settings_are_one_line_errors(bits, embedding_bits, groups, message):
    with pytest.raises(ConfigError, match=f"--set {message}"):
        check_qbert(bits, embedding_bits, groups)


def test_the_qbert_method_quantizes_a_run(finetuned_run, tmp_path):
    from lmlab.compression.method import Source
    from lmlab.finetune.post_training import QBERT
    from lmlab.finetune.run_folder import load_finetuned

    config, tokenizer, model = load_finetuned(finetuned_run)
    settings = QBERT.settings({"examples": 16, "batch_size": 8, "iterations": 3, "groups": 4})
    result = QBERT.compress(Source(finetuned_run, config, tokenizer, model, tmp_path), settings)
    assert sorted(result.summary["layer_bits"]) == [4, 8]  # bert/tiny: 2 layers
    more = result.summary["layer_bits"].index(8)
    assert result.summary["omega"][more] >= result.summary["omega"][1 - more]
    query = result.model.backbone.encoder.layers[more].attention.qkv.weight
    assert all(len(torch.unique(group)) <= 256 for group in torch.tensor_split(query, 4))
    with pytest.raises(ConfigError, match="iterations"):
        QBERT.settings({"iterations": 0})
