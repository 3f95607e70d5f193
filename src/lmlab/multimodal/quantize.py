"""Vector quantisation of visual features by k-means: VideoBERT's visual words (Sun et al.
2019, §3.2: features clustered by hierarchical k-means, each clip replaced by its
centroid's id). Here flat k-means (Lloyd 1982) over the cell features of
:mod:`lmlab.multimodal.visual`; the codes are the targets of masked region classification
and the visual tokens of a VideoBERT-style model.

Reference path: :func:`assign` is the exact nearest code under squared Euclidean distance,
ties to the lowest code index (``argmin``); its fast twin (``fast=True``) takes the
distances from one matrix product, and :func:`kmeans` alternates it with centroid means,
seeded by k distinct training features.
"""

from __future__ import annotations

import torch

from lmlab.errors import ConfigError


def squared_distances(features: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(n, F), (K, F) -> (n, K): ||x - c||^2, computed exactly (no expansion, so a
    feature equal to a code is at distance 0)."""
    return ((features[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)


def fast_squared_distances(features: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(n, F), (K, F) -> (n, K): ||x||^2 - 2 x·c + ||c||^2 by one matrix product, in float64
    (the fast twin of :func:`squared_distances`; may round differently at exact ties)."""
    x, c = features.double(), codebook.double()
    return (x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)


def assign(features: torch.Tensor, codebook: torch.Tensor, chunk: int = 1024,
           fast: bool = False) -> torch.Tensor:
    """(..., F) -> (...) long: the index of each feature's nearest code (``fast``: by the
    matrix-product distances, used inside :func:`kmeans`)."""
    flat = features.reshape(-1, features.shape[-1]).float()
    distances = fast_squared_distances if fast else squared_distances
    codes = [distances(part, codebook.float()).argmin(dim=1)
             for part in flat.split(chunk if not fast else 65536)]
    return torch.cat(codes).view(features.shape[:-1]) if codes else \
        torch.zeros(features.shape[:-1], dtype=torch.long)


def kmeans(features: torch.Tensor, num_codes: int, iterations: int = 20,
           seed: int = 0) -> torch.Tensor:
    """(n, F) -> (K, F) codebook. Initial codes: K distinct features drawn by a seeded
    permutation; an emptied cluster keeps its previous code."""
    flat = features.reshape(-1, features.shape[-1]).float()
    if num_codes < 1 or num_codes > flat.shape[0]:
        raise ConfigError(f"num_codes: must be in 1..{flat.shape[0]} (the number of features), "
                          f"got {num_codes}")
    generator = torch.Generator().manual_seed(seed)
    unique = torch.unique(flat, dim=0)
    if unique.shape[0] < num_codes:
        raise ConfigError(f"num_codes: {num_codes} codes but only {unique.shape[0]} distinct "
                          f"features")
    codebook = unique[torch.randperm(unique.shape[0], generator=generator)[:num_codes]].clone()
    for _ in range(iterations):
        codes = assign(flat, codebook, fast=True)
        sums = torch.zeros_like(codebook).index_add_(0, codes, flat)
        counts = torch.bincount(codes, minlength=num_codes).float()
        filled = counts > 0
        updated = codebook.clone()
        updated[filled] = sums[filled] / counts[filled, None]
        if torch.equal(updated, codebook):
            break
        codebook = updated
    return codebook
