"""Q8BERT fake quantization (Zafrir et al. 2019): known values, STE, EMA, export."""

import pytest
import torch
from torch import nn

from lmlab.compression.quantization.fake_quant import (FakeQuantEmbedding, FakeQuantLinear,
                                                      fake_quant_bits, fake_quantize,
                                                      int8_export, quantization_aware, quantize)
from lmlab.errors import ConfigError


def test_fake_quant_known_values():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.25, 1.0, 2.0])
    # S = 127 / 1: -0.5 -> round(-63.5) = -64 (half to even), 0.25 -> round(31.75) = 32,
    # 2.0 is outside [-1, 1] and clamps to 127.
    assert quantize(x, 127.0).tolist() == [-127, -64, 0, 32, 127, 127]
    assert fake_quantize(x, 1.0).tolist() == pytest.approx(
        [-1.0, -64 / 127, 0.0, 32 / 127, 1.0, 1.0], abs=1e-7)


def test_grid_values_round_trip_exactly_through_int8():
    levels = torch.arange(-127, 128, dtype=torch.float64)
    x = levels * (3.0 / 127)  # every point of the 8-bit grid of [-3, 3]
    assert torch.equal(quantize(x, 127 / 3.0), levels)
    assert torch.allclose(fake_quantize(x, 3.0), x, atol=1e-12, rtol=0)
    layer = FakeQuantLinear(nn.Linear(255, 1, bias=False))
    with torch.no_grad():
        layer.weight.copy_(x.float()[None])
    exported = int8_export(nn.Sequential(layer))
    assert exported["0.weight_int"].dtype == torch.int8
    assert exported["0.weight_int"].flatten().tolist() == list(range(-127, 128))
    assert float(exported["0.weight_scale"]) == pytest.approx(3.0 / 127)
    assert torch.allclose(exported["0.weight_int"].float() * exported["0.weight_scale"],
                          layer.weight, atol=1e-6, rtol=0)


def test_straight_through_gradient_is_the_identity_inside_the_range():
    x = torch.tensor([-0.9, -0.31, 0.0, 0.42, 0.77], requires_grad=True)
    weights = torch.tensor([1.0, 2.0, -3.0, 4.0, 0.5])
    (fake_quantize(x, 1.0) * weights).sum().backward()
    assert x.grad.tolist() == weights.tolist()


def test_activation_range_is_an_ema_of_batch_maxima():
    layer = FakeQuantLinear(nn.Linear(2, 2), ema_decay=0.9)
    layer.train()
    layer(torch.tensor([[1.0, -2.0]]))
    assert float(layer.activation_max) == 2.0  # the first batch sets it
    layer(torch.tensor([[4.0, 0.0]]))
    assert float(layer.activation_max) == pytest.approx(0.9 * 2.0 + 0.1 * 4.0)
    layer.eval()
    layer(torch.tensor([[100.0, 0.0]]))  # evaluation reads the EMA, never updates it
    assert float(layer.activation_max) == pytest.approx(2.2)


def test_wrapped_linear_computes_on_the_int8_grid():
    torch.manual_seed(0)
    linear = nn.Linear(4, 3)
    x = torch.randn(5, 4)
    layer = FakeQuantLinear(linear).eval()
    w_max, x_max = linear.weight.abs().max(), x.abs().max()
    expected = (quantize(x, 127 / x_max) / (127 / x_max)) @ \
        (quantize(linear.weight, 127 / w_max) / (127 / w_max)).T + linear.bias
    assert torch.allclose(layer(x), expected, atol=1e-6, rtol=0)


def test_quantization_aware_wraps_in_place_and_keeps_the_state_dict_names():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    names = set(model.state_dict())
    quantization_aware(model)
    assert [type(m) for m in model] == [FakeQuantEmbedding, FakeQuantLinear, nn.LayerNorm,
                                        FakeQuantLinear]
    assert set(model.state_dict()) == names | {"1.activation_max", "3.activation_max"}
    # 8 bits a weight + weight scale (+ input scale per Linear); biases and LayerNorm fp32
    assert fake_quant_bits(model) == (40 * 8 + 32) + (16 * 8 + 64) + 4 * 32 + 8 * 32 + \
        (8 * 8 + 64) + 2 * 32
    with pytest.raises(ConfigError, match="already fake-quantized"):
        quantization_aware(model)


@pytest.mark.parametrize("bits", [1, 9, 4.0, True])
def test_bad_bits_are_refused(bits):
    with pytest.raises(ConfigError, match="bits"):
        quantization_aware(nn.Linear(2, 2), bits)


def test_strip_leaves_plain_modules_with_int8_grid_weights():
    from lmlab.compression.quantization.fake_quant import strip_fake_quant

    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3))
    names = set(model.state_dict())
    quantization_aware(model)
    exported = int8_export(model)
    strip_fake_quant(model)
    assert [type(m) for m in model] == [nn.Embedding, nn.Linear]
    assert set(model.state_dict()) == names
    for index in ("0", "1"):
        assert torch.allclose(model[int(index)].weight,
                              exported[f"{index}.weight_int"].float()
                              * exported[f"{index}.weight_scale"], atol=1e-6, rtol=0)
