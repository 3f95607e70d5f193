"""k-means weight sharing (Cheong & Daniel 2019, "transformers.zip: Compressing
Transformers with Pruning and Quantization", the k-means quantization they take from Han,
Mao & Dally 2016, "Deep Compression", §3).

Each weight matrix W gets its own codebook of K = 2^k centroids found by 1-D k-means,
Deep Compression eq. 2: ``argmin_C sum_i sum_{w in c_i} |w - c_i|^2``, and every weight is
replaced by its centroid. Stored as a codebook, a matrix of n weights costs
``n * k + K * 32`` bits instead of ``n * 32`` (the denominator and numerator of Deep
Compression eq. 1, compression rate ``r = n b / (n log2 K + K b)`` with b = 32).

The k-means is Lloyd's algorithm in one dimension, written here so that it is exact and
deterministic: centroids start linearly spaced between min(W) and max(W) (Deep
Compression §3.1 found linear initialisation the best for weights: it keeps the few large
weights, which matter most, their own centroids); each weight goes to its nearest centroid
(in 1-D: the interval between the midpoints of sorted neighbours); each centroid becomes
the mean of its weights (an empty one stays where it is); repeat until no assignment
changes. A matrix with at most K distinct values is its own codebook (zero distortion,
the k-means optimum). Fine-tuning the centroids (the gradient summed per centroid,
Deep Compression eq. 3) is not here yet (issue 20).
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.compression.matrices import FLOAT_BITS, weight_matrices
from lmlab.compression.method import Compressed, Method, Source
from lmlab.errors import ConfigError

METHOD = "kmeans"
MAX_ITERATIONS = 300


def check_bits(bits) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ConfigError(f"--bits: bad value {bits!r}; expected an integer from 1 to 8 "
                          f"(2^bits centroids per weight matrix)")


def _assign(values: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid of each value; centroids sorted ascending (K,).
    A value exactly between two centroids goes to the lower one."""
    midpoints = (centroids[1:] + centroids[:-1]) / 2  # (K - 1,)
    return torch.bucketize(values, midpoints)


def kmeans_1d(values: torch.Tensor, clusters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's 1-D k-means: (centroids (K',) sorted, K' <= clusters; assignments, long,
    of ``values``' shape). Computed in float64; centroids returned in ``values``' dtype.

    In 1-D a cluster is a run of the sorted values, so each Lloyd step is K binary searches
    and K differences of prefix sums (O(K log n)) instead of a pass over the n weights: the
    same iterates, fast enough for a 30k x 384 embedding matrix."""
    flat = values.detach().flatten().to(torch.float64)  # (n,)
    distinct = torch.unique(flat)  # sorted
    if distinct.numel() <= clusters:
        centroids = distinct
    else:
        ordered = flat.sort().values  # (n,)
        prefix = torch.cat([torch.zeros(1, dtype=torch.float64), ordered.cumsum(0)])  # (n+1,)
        centroids = torch.linspace(float(ordered[0]), float(ordered[-1]), clusters,
                                   dtype=torch.float64)
        ends = None
        for _ in range(MAX_ITERATIONS):
            midpoints = (centroids[1:] + centroids[:-1]) / 2  # (K-1,)
            # cluster i holds the sorted values in (midpoint[i-1], midpoint[i]]
            updated = torch.cat([torch.searchsorted(ordered, midpoints, right=True),
                                 torch.tensor([ordered.numel()])])  # (K,) end of each run
            if ends is not None and torch.equal(updated, ends):
                break
            ends = updated
            starts = torch.cat([torch.zeros(1, dtype=torch.long), ends[:-1]])
            counts = ends - starts
            sums = prefix[ends] - prefix[starts]
            centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids).sort().values
    assignments = _assign(flat, centroids)
    return centroids.to(values.dtype), assignments.view(values.shape)


def quantize_kmeans(model: nn.Module, bits: int) -> dict:
    """Replace every weight matrix of ``model`` (in place) by its codebook values; returns
    {name: centroids (K',)}. Biases and LayerNorm parameters stay fp32."""
    check_bits(bits)
    codebooks = {}
    with torch.no_grad():
        for name, weight in weight_matrices(model).items():
            centroids, assignments = kmeans_1d(weight, 2 ** bits)
            weight.copy_(centroids[assignments])
            codebooks[name] = centroids
    return codebooks


def kmeans_bits(model: nn.Module, bits: int) -> int:
    """Size estimate as codebooks: per weight matrix ``n * bits + 2^bits * 32`` bits
    (Deep Compression eq. 1's denominator); every other parameter 32 bits."""
    matrices = {id(p) for p in weight_matrices(model).values()}
    total = 0
    for parameter in {id(p): p for p in model.parameters()}.values():
        if id(parameter) in matrices:
            total += parameter.numel() * bits + 2 ** bits * FLOAT_BITS
        else:
            total += parameter.numel() * FLOAT_BITS
    return total


def _compress(source: Source, settings: dict) -> Compressed:
    quantize_kmeans(source.model, settings["bits"])
    return Compressed(source.model, source.config, kmeans_bits(source.model, settings["bits"]))


KMEANS = Method(METHOD, "k-means weight sharing: a codebook of 2^bits centroids per weight "
                "matrix (Cheong & Daniel 2019)", {"bits": 4}, _compress,
                lambda settings: check_bits(settings["bits"]))
