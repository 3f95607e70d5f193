"""The QRNN encoder (Bradbury et al. 2017; MultiFiT's LM): exact values, causality, state."""

import math

import pytest
import torch

from lmlab.config import from_dict, ModelConfig
from lmlab.encoders.qrnn import QRNNConfig, QRNNEncoder, QRNNLayer, fo_pool
from lmlab.errors import ConfigError
from lmlab.registry import build_model


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_one_unit_layer_matches_a_hand_computation():
    """D = H = 1, k = 2, W = [w_prev, w_cur] per gate, zero biases, x = (1, 2):
    z_t = tanh(a x_{t-1} + b x_t), f_t = σ(..), o_t = σ(..) (eq. 1-2), then eq. 4."""
    layer = QRNNLayer(1, 1, 2)
    with torch.no_grad():
        # rows: z, f, o; columns: x_{t-1}, x_t
        layer.gates.weight.copy_(torch.tensor([[0.5, 1.0], [-1.0, 0.5], [0.25, -0.5]]))
        layer.gates.bias.zero_()
    x = torch.tensor([[[1.0], [2.0]]])  # (B=1, T=2, D=1)
    h, cell, past = layer(x, None, None)
    z1, f1, o1 = math.tanh(1.0), _sig(0.5), _sig(-0.5)  # x_0 = 0 (left padding), x_1 = 1
    c1 = (1 - f1) * z1
    z2, f2, o2 = math.tanh(0.5 + 2.0), _sig(-1.0 + 1.0), _sig(0.25 - 1.0)
    c2 = f2 * c1 + (1 - f2) * z2
    assert h.squeeze().tolist() == pytest.approx([o1 * c1, o2 * c2], abs=1e-6)
    assert cell.item() == pytest.approx(c2, abs=1e-6)
    assert past.tolist() == [[[2.0]]]  # the last input, the next segment's x_{t-1}


def test_fo_pool_exact_values():
    z = torch.tensor([[[1.0], [-1.0], [0.5]]])  # (1, 3, 1)
    f = torch.tensor([[[0.5], [0.25], [1.0]]])
    o = torch.tensor([[[1.0], [0.5], [2.0]]])
    h, c = fo_pool(z, f, o, torch.tensor([[2.0]]))
    # c1 = .5*2 + .5*1 = 1.5; c2 = .25*1.5 + .75*-1 = -0.375; c3 = c2 (f = 1)
    assert h.squeeze().tolist() == [1.5, -0.1875, -0.75]
    assert c.item() == -0.375


def _encoder(layers=2, hidden=6, window=2):
    torch.manual_seed(0)
    return QRNNEncoder(4, QRNNConfig(num_layers=layers, hidden_size=hidden, window=window)).eval()


@pytest.mark.parametrize("window", [1, 2, 3])
def test_output_t_does_not_read_input_after_t(window):
    encoder = _encoder(window=window)
    x = torch.randn(2, 7, 4)
    changed = x.clone()
    changed[:, 4] += 5.0
    a, b = encoder(x).hidden, encoder(changed).hidden  # (2, 7, 4)
    assert torch.equal(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_carried_state_equals_one_long_pass():
    """Two segments with the memory carried == the whole sequence at once."""
    encoder = _encoder(layers=3, window=3)
    x = torch.randn(2, 9, 4)
    whole = encoder(x)
    first = encoder(x[:, :5])
    second = encoder(x[:, 5:], memory=first.memory)
    torch.testing.assert_close(torch.cat([first.hidden, second.hidden], 1), whole.hidden)
    assert len(whole.memory) == 6 and encoder.memory_batch_dims == (0,) * 6
    assert [m.shape for m in whole.memory[:3]] == [(2, 6), (2, 6), (2, 4)]  # last: model width


def test_layer_widths_and_registry():
    config = from_dict(ModelConfig, {"embedding": {"hidden_size": 8, "position": "none"},
                                     "encoder": {"name": "qrnn", "num_layers": 3,
                                                 "hidden_size": 12}})
    model = build_model(config, vocab_size=20, seed=0)
    shapes = [layer.gates.weight.shape for layer in model.encoder.layers]
    assert shapes == [(36, 16), (36, 24), (24, 24)]  # 3H x kD: 8 -> 12 -> 12 -> 8
    assert model.recurrent and model.encoder.left_to_right
    out = model(torch.tensor([[1, 2, 3]]))
    assert out.hidden.shape == (1, 3, 8)


def test_bad_config_is_one_line_error():
    with pytest.raises(ConfigError, match=r"model.encoder.window: must be >= 1"):
        from_dict(ModelConfig, {"encoder": {"name": "qrnn", "window": 0}}, "model")
