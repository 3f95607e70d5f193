"""Visual embeddings: what turns a picture into a sequence of "visual tokens" (issue 22).

Two kinds, one interface. Both first cut the image into a g x g grid of square cells and
take each cell's pixels, flattened and scaled to [-1, 1], as its *feature* v (F = P·P·3
for cells of P x P pixels): :func:`cell_features`. The features are fixed (computed, not
learned), so they can be masked, regressed (masked region modelling) and vector-quantised
(VideoBERT's visual words) like detector features are in the papers.

* ``patch`` — the ViT patch embedding (Dosovitskiy et al. 2021, eq. 1): z = E v + E_pos,
  a learned linear map of each flattened patch (equal to ViT's stride-P convolution) plus a
  learned position per patch. Trained from scratch here: no ImageNet weights offline.
* ``grid`` — *regions* for the region-based models (VL-BERT, UNITER, ViLBERT, LXMERT use
  Faster R-CNN boxes and their RoI features). Here the regions are the fixed grid cells,
  standing in for detector regions: each has its box b = (x1, y1, x2, y2, area) in [0, 1]
  and the embedding is UNITER's (Chen et al. 2020, §3.1): z = LN(W_v v) + LN(W_b b), then
  a LayerNorm. No detector is involved; the geometry is the grid's.

* ``vq`` — VideoBERT's visual tokens (Sun et al. 2019, §3.2): each cell's feature is
  replaced by the id of its nearest k-means code (:mod:`lmlab.multimodal.quantize`), then
  embedded like a word, plus a learned position.

All prepend a learned ``[IMG]`` token (ViLBERT's whole-image token, Lu et al. 2019 §3.1)
and return (B, 1 + N, D); row 0 is ``[IMG]``, rows 1..N the cells in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.errors import ConfigError, DataError
from lmlab.multimodal.quantize import assign


@dataclass
class VisualConfig:
    kind: Literal["patch", "grid", "vq"] = "patch"
    """``patch``: ViT patch embedding; ``grid``: grid-cell regions with box features;
    ``vq``: VideoBERT's visual words (each cell's nearest k-means code, embedded)."""
    image_size: int = 32
    """Images are image_size x image_size (square) RGB."""
    cell_size: int = 8
    """Pixels per side of a patch / grid cell; must divide image_size."""
    num_codes: int = 64
    """vq: the codebook size (visual vocabulary); the codebook is fitted by k-means on the
    training cells before training and saved with the weights."""

    def validate(self, path: str) -> None:
        if self.kind not in ("patch", "grid", "vq"):
            raise ConfigError(f"{path}.kind: one of patch, grid, vq, got {self.kind!r}")
        if self.num_codes < 2:
            raise ConfigError(f"{path}.num_codes: must be >= 2, got {self.num_codes}")
        if self.image_size < 1 or self.cell_size < 1 or self.image_size % self.cell_size:
            raise ConfigError(f"{path}.cell_size: {self.cell_size} must divide "
                              f"{path}.image_size={self.image_size}")

    @property
    def grid(self) -> int:
        return self.image_size // self.cell_size

    @property
    def num_regions(self) -> int:
        return self.grid * self.grid

    @property
    def feature_size(self) -> int:
        return self.cell_size * self.cell_size * 3


def cell_features(images: torch.Tensor, cell_size: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, N, P·P·3) float in [-1, 1]: each P x P cell flattened in
    (row, column, channel) order, cells in raster order (N = (H/P)·(W/P))."""
    batch, height, width, channels = images.shape
    rows, cols = height // cell_size, width // cell_size
    x = images.float() / 127.5 - 1.0
    x = x.view(batch, rows, cell_size, cols, cell_size, channels)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, rows, cols, P, P, 3)
    return x.reshape(batch, rows * cols, cell_size * cell_size * channels)


def cell_boxes(grid: int) -> torch.Tensor:
    """(N, 5): each grid cell's (x1, y1, x2, y2, area), normalised to the image, raster
    order: the box features that stand in for detector boxes."""
    index = torch.arange(grid * grid)
    row, col = (index // grid).float(), (index % grid).float()
    x1, y1 = col / grid, row / grid
    x2, y2 = (col + 1) / grid, (row + 1) / grid
    return torch.stack([x1, y1, x2, y2, (x2 - x1) * (y2 - y1)], dim=-1)


class VisualEmbedding(nn.Module):
    def __init__(self, config: VisualConfig, hidden_size: int, dropout: float = 0.1):
        super().__init__()
        self.config = config
        if config.kind != "vq":
            self.project = nn.Linear(config.feature_size, hidden_size)
        self.image_token = nn.Parameter(torch.zeros(hidden_size))
        nn.init.normal_(self.image_token, std=0.02)
        if config.kind in ("patch", "vq"):
            self.position = nn.Parameter(torch.zeros(config.num_regions, hidden_size))
            nn.init.normal_(self.position, std=0.02)
        if config.kind == "vq":  # visual words; the last row is the masked visual word
            self.register_buffer("codebook", torch.zeros(config.num_codes, config.feature_size))
            self.codes = nn.Embedding(config.num_codes + 1, hidden_size)
            nn.init.normal_(self.codes.weight, std=0.02)
        elif config.kind == "grid":
            self.feature_norm = nn.LayerNorm(hidden_size)
            self.box = nn.Linear(5, hidden_size)
            self.box_norm = nn.LayerNorm(hidden_size)
            self.register_buffer("boxes", cell_boxes(config.grid), persistent=False)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def features(self, images: torch.Tensor, source: str = "images") -> torch.Tensor:
        """(B, S, S, 3) uint8 -> (B, N, F) fixed cell features; a picture of another size
        than ``image_size`` is a one-line error naming ``source``."""
        size = self.config.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (size, size, 3):
            raise DataError(f"{source}: images of shape {tuple(images.shape[1:])}, the "
                            f"{self.config.kind} embedding takes ({size}, {size}, 3); resize "
                            f"them (load_image(..., size={size}))")
        return cell_features(images, self.config.cell_size)

    def visual_words(self, features: torch.Tensor) -> torch.Tensor:
        """vq: (B, N, F) -> (B, N) code ids; a cell zeroed by region masking (all-zero
        features, which no picture gives: 0 is pixel value 127.5) is the [MASK] word."""
        words = assign(features, self.codebook, fast=True)
        return words.masked_fill((features == 0).all(-1), self.config.num_codes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, N, F) cell features (possibly masked) -> (B, 1 + N, D), [IMG] first."""
        if self.config.kind == "vq":
            z = self.codes(self.visual_words(features)) + self.position  # (B, N, D)
        elif self.config.kind == "patch":
            z = self.project(features) + self.position  # (B, N, D)
        else:  # grid: UNITER's LN(W_v v) + LN(W_b b)
            z = self.feature_norm(self.project(features)) + self.box_norm(self.box(self.boxes))
        image = self.image_token.expand(z.shape[0], 1, -1)  # (B, 1, D)
        return self.dropout(self.norm(torch.cat([image, z], dim=1)))
