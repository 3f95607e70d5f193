"""Issue 22: VideoBERT's frame-sequence "video" proxy (panning clips of still pictures,
tiled into a mosaic whose cells are the frames) — deterministic, exact on a tiny picture."""

import zlib

import numpy as np
import pytest

from lmlab.errors import ConfigError
from lmlab.multimodal.corpus import MultimodalDataConfig
from lmlab.multimodal.frames import DIRECTIONS, check_frames, clip_mosaic, clip_mosaics


def _picture(size=8, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_builder_is_deterministic_and_seeded():
    pictures = np.stack([_picture(seed=s) for s in range(3)])
    first, again = clip_mosaics(pictures, 4), clip_mosaics(pictures.copy(), 4)
    assert np.array_equal(first, again) and first.dtype == np.uint8
    assert first.shape == pictures.shape
    # the clip depends on the picture's content, not on where it sits in the array
    assert np.array_equal(clip_mosaics(pictures[::-1], 4), first[::-1])
    others = [clip_mosaics(pictures, 4, seed=s) for s in range(1, 8)]
    assert any(not np.array_equal(o, first) for o in others)  # the seed picks directions


def test_mosaic_cells_are_the_block_averaged_shifted_frames():
    picture = _picture(size=4)
    mosaic = clip_mosaic(picture, 4, seed=0)  # 4 frames of 2x2, step max(1, 4 // 4) = 1
    generator = np.random.default_rng([0, zlib.crc32(picture.tobytes())])
    dy, dx = DIRECTIONS[int(generator.integers(len(DIRECTIONS)))]
    for t in range(4):
        frame = np.roll(picture, (t * dy, t * dx), axis=(0, 1)).astype(float)
        expected = np.floor(frame.reshape(2, 2, 2, 2, 3).mean((1, 3)) + 0.5)
        row, col = divmod(t, 2)
        assert np.array_equal(mosaic[2 * row:2 * row + 2, 2 * col:2 * col + 2], expected)
    # frame 0 is the picture itself, shrunk: its top-left pixel is the mean of a 2x2 block
    assert mosaic[0, 0].tolist() == np.floor(picture[:2, :2].astype(float).mean((0, 1))
                                             + 0.5).tolist()


def test_frame_count_is_validated():
    assert check_frames(16, 32) == 4
    with pytest.raises(ConfigError, match=r"data.video_frames: a square number >= 4 whose "
                                          r"root divides image_size=32"):
        MultimodalDataConfig(video_frames=12).validate()
    with pytest.raises(ConfigError, match=r"data.video_frames"):
        MultimodalDataConfig(image_size=30, video_frames=16).validate()
