"""The frame-sequence "video" proxy for VideoBERT (Sun et al. 2019, §3.2) — a stated proxy:
no video data installs offline, so each still picture (emoji, easy-VQA) is turned into a
short clip of a camera panning across it, and the clip is what the model reads.

Clip of a picture P (S x S x 3), F = k² frames: frame t is P shifted (wrapping round) by
t·s pixels along a direction (dy, dx) ∈ {-1, 0, 1}² \\ {(0, 0)} and shrunk to S/k x S/k
pixels by block averaging; s = max(1, S // F). The direction is drawn from a generator
seeded by (seed, CRC-32 of the picture's bytes), so a picture always gives the same clip,
in training, in evaluation and in ``predict``. The F frames are tiled in raster order into
one S x S mosaic: with ``visual.cell_size`` = S/k, each grid cell of the mosaic is one frame,
so VideoBERT's vector quantisation (``visual.kind: vq``) makes each *frame* a visual word
(VideoBERT quantises clip features; here a frame's pixels) and the visual position
embedding is the frame's time step.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from lmlab.errors import ConfigError

DIRECTIONS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def check_frames(frames: int, image_size: int, path: str = "data.video_frames") -> int:
    """k = √frames; frames must be a square whose root divides ``image_size``."""
    side = math.isqrt(frames)
    if frames < 4 or side * side != frames or image_size % side:
        raise ConfigError(f"{path}: a square number >= 4 whose root divides image_size="
                          f"{image_size} (e.g. 16 frames of {image_size // 4}x"
                          f"{image_size // 4}), got {frames}")
    return side


def clip_mosaic(picture: np.ndarray, frames: int, seed: int = 0) -> np.ndarray:
    """(S, S, 3) uint8 -> (S, S, 3) uint8: the picture's F-frame panning clip, frames tiled
    in raster (= time) order, each frame block-averaged to S/k x S/k (rounded half up)."""
    size = picture.shape[0]
    side = check_frames(frames, size)
    small = size // side  # frame size
    generator = np.random.default_rng([seed, zlib.crc32(picture.tobytes())])
    dy, dx = DIRECTIONS[int(generator.integers(len(DIRECTIONS)))]
    step = max(1, size // frames)
    mosaic = np.empty_like(picture)
    for t in range(frames):
        frame = np.roll(picture, (t * step * dy, t * step * dx), axis=(0, 1)).astype(np.float64)
        frame = frame.reshape(small, side, small, side, 3).mean((1, 3))  # (S/k, S/k, 3)
        row, col = divmod(t, side)
        mosaic[row * small:(row + 1) * small, col * small:(col + 1) * small] = \
            np.floor(frame + 0.5).astype(np.uint8)
    return mosaic


def clip_mosaics(images: np.ndarray, frames: int, seed: int = 0) -> np.ndarray:
    """(M, S, S, 3) -> (M, S, S, 3): :func:`clip_mosaic` of each picture."""
    return np.stack([clip_mosaic(picture, frames, seed) for picture in images])
