"""k-means weight sharing (Cheong & Daniel 2019): exact codebooks on hand-made matrices."""

import pytest
import torch
from torch import nn

from lmlab.compression.quantization.kmeans import kmeans_1d, kmeans_bits, quantize_kmeans
from lmlab.errors import ConfigError


def test_hand_made_matrix_two_centroids():
    # Linear init [0, 5.2]; midpoint 2.6 splits {0, .1, 1, 1.1} | {5, 5.2}; means .55 and
    # 5.1; the new midpoint 2.825 splits the same way: converged.
    w = torch.tensor([[0.0, 0.1, 1.0], [1.1, 5.0, 5.2]])
    centroids, assignments = kmeans_1d(w, 2)
    torch.testing.assert_close(centroids, torch.tensor([0.55, 5.1]))
    assert assignments.tolist() == [[0, 0, 0], [0, 1, 1]]


def test_hand_made_matrix_four_centroids_moves_off_the_linear_grid():
    # Linear init [0, 2, 4, 6]; midpoints 1, 3, 5 put {0, .5, 1} in 0, {3} in 1 (3 <= 3),
    # {4.2} in 2, {6} in 3; means .5, 3, 4.2, 6 -> midpoints 1.75, 3.6, 5.1: unchanged.
    w = torch.tensor([[0.0, 0.5, 1.0], [3.0, 4.2, 6.0]])
    centroids, assignments = kmeans_1d(w, 4)
    torch.testing.assert_close(centroids, torch.tensor([0.5, 3.0, 4.2, 6.0]))
    assert assignments.tolist() == [[0, 0, 0], [1, 2, 3]]


def test_as_many_centroids_as_distinct_weights_is_lossless():
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(8, generator=generator)
    w = values[torch.randint(0, 8, (16, 16), generator=generator)]  # 8 distinct values
    layer = nn.Linear(16, 16)
    with torch.no_grad():
        layer.weight.copy_(w)
    before = {name: p.clone() for name, p in layer.named_parameters()}
    codebooks = quantize_kmeans(layer, bits=3)  # 2^3 = 8 centroids
    assert torch.equal(layer.weight, before["weight"]) and torch.equal(layer.bias, before["bias"])
    torch.testing.assert_close(codebooks["weight"], values.sort().values)


def test_quantized_matrix_holds_at_most_two_to_the_bits_values():
    layer = nn.Linear(32, 32)
    quantize_kmeans(layer, bits=2)
    assert torch.unique(layer.weight).numel() <= 4
    assert torch.unique(layer.bias).numel() == 32  # biases stay fp32


def test_size_estimate_is_bits_per_weight_plus_codebook():
    layer = nn.Linear(10, 4)  # 40 weights, 4 biases
    assert kmeans_bits(layer, 4) == 40 * 4 + 16 * 32 + 4 * 32


@pytest.mark.parametrize("bits", [0, 9, 2.5, True])
def test_bits_outside_one_to_eight_are_refused(bits):
    with pytest.raises(ConfigError, match="--bits"):
        quantize_kmeans(nn.Linear(2, 2), bits)
