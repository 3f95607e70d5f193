"""The bidirectional LSTM encoder (ELMo's biLM, context2vec): directions kept apart,
the backward stack reading each row reversed within its length."""

import pytest
import torch

from lmlab.encoders.bilstm import BiLSTMConfig, BiLSTMEncoder, reverse_padded, split_directions


def test_reverse_padded_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1)  # (B, T, 1)
    out = reverse_padded(x, torch.tensor([3, 2]))
    assert out.squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_padded(out, torch.tensor([3, 2])), x)  # its own inverse


def _encoder(**options):
    torch.manual_seed(0)
    return BiLSTMEncoder(8, BiLSTMConfig(**options)).eval()


def test_forward_state_depends_only_on_the_past_backward_only_on_the_future():
    encoder = _encoder(num_layers=2)
    x = torch.randn(1, 6, 8, requires_grad=True)
    forward, backward = split_directions(encoder(x).hidden)
    (grad,) = torch.autograd.grad(forward[0, 2].sum(), x, retain_graph=True)
    assert grad[0, 3:].abs().sum() == 0 and grad[0, :3].abs().sum() > 0
    (grad,) = torch.autograd.grad(backward[0, 2].sum(), x)
    # Would fail if both directions read left to right: the backward state at 2 sees 2..5.
    assert grad[0, :2].abs().sum() == 0 and grad[0, 2:].abs().sum() > 0


def test_padding_never_reaches_a_real_token():
    encoder = _encoder(num_layers=2, cell_size=12)
    x = torch.randn(1, 4, 8)
    padded = torch.cat([x, torch.randn(1, 3, 8)], dim=1)  # 3 padding positions of noise
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]])
    alone = encoder(x).hidden
    together = encoder(padded, mask).hidden[:, :4]
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)


def test_layer_states_are_elmos_2l_plus_1_representations():
    encoder = _encoder(num_layers=2)
    x = torch.randn(2, 5, 8)
    output = encoder(x, return_layers=True)
    assert output.hidden.shape == (2, 5, 16) and encoder.output_size == 16
    assert len(output.layer_states) == 3  # [x;x], layer 1, layer 2
    assert torch.equal(output.layer_states[0], torch.cat([x, x], -1))
    assert torch.equal(output.layer_states[-1], output.hidden)


def test_residual_adds_the_layer_input():
    with_residual, without = _encoder(num_layers=2), _encoder(num_layers=2, residual=False)
    x = torch.randn(1, 3, 8)
    first = with_residual(x, return_layers=True).layer_states[1][..., :8]
    top = with_residual(x).hidden[..., :8]
    plain_top = without(x).hidden[..., :8]  # same weights (same seed), no residual
    torch.testing.assert_close(top - first, plain_top, rtol=0, atol=1e-6)


def test_memory_is_refused():
    with pytest.raises(ValueError, match="carries no memory"):
        _encoder()(torch.randn(1, 3, 8), memory=(torch.zeros(1), torch.zeros(1)))
