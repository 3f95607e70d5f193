import pytest
import torch

from lmlab.layers.linear_cross_entropy import linear_cross_entropy, reference_linear_cross_entropy


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1024])
def test_fused_loss_and_gradients_equal_the_plain_path(with_bias, chunk_rows):
    torch.manual_seed(0)
    hidden = torch.randn(23, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(50, dtype=torch.float64, requires_grad=True) if with_bias else None
    targets = torch.randint(0, 50, (23,))
    targets[[2, 5, 19]] = -100
    inputs = [hidden, weight] + ([bias] if with_bias else [])

    fused = linear_cross_entropy(hidden, weight, bias, targets, chunk_rows) * 3.0
    fused_grads = torch.autograd.grad(fused, inputs)
    plain = reference_linear_cross_entropy(hidden, weight, bias, targets) * 3.0
    plain_grads = torch.autograd.grad(plain, inputs)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    for got, expected in zip(fused_grads, plain_grads):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_tied_weight_gradients_accumulate():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(30, 8)
    ids = torch.randint(0, 30, (12,))
    targets = torch.randint(0, 30, (12,))
    linear_cross_entropy(embedding(ids), embedding.weight, None, targets, 5).backward()
    fused = embedding.weight.grad.clone()
    embedding.weight.grad = None
    reference_linear_cross_entropy(embedding(ids), embedding.weight, None, targets).backward()
    torch.testing.assert_close(fused, embedding.weight.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("with_bias", [True, False])
def test_under_bf16_autocast_it_matches_the_plain_path_and_keeps_fp32_gradients(with_bias):
    # The GPU path (train.precision=bf16): hidden arrives in bf16, the weight is fp32.
    torch.manual_seed(0)
    weight = torch.randn(50, 16, requires_grad=True)
    bias = torch.randn(50, requires_grad=True) if with_bias else None
    hidden = torch.randn(23, 16).bfloat16().requires_grad_()
    targets = torch.randint(0, 50, (23,))
    targets[[4, 9]] = -100
    inputs = [hidden, weight] + ([bias] if with_bias else [])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = linear_cross_entropy(hidden, weight, bias, targets, 7)
        plain = reference_linear_cross_entropy(hidden, weight, bias, targets)
    fused_grads = torch.autograd.grad(fused, inputs)
    plain_grads = torch.autograd.grad(plain, inputs)
    assert fused.dtype == torch.float32
    assert [g.dtype for g in fused_grads] == [i.dtype for i in inputs]
    torch.testing.assert_close(fused, plain.float(), rtol=2e-2, atol=2e-2)
    for got, expected in zip(fused_grads, plain_grads):
        torch.testing.assert_close(got.float(), expected.float(), rtol=5e-2, atol=5e-3)
