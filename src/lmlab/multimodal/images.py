"""Reading images for the multimodal models (issue 22): one checked path, one-line errors.

Every image enters lmlab as a ``uint8`` array (H, W, 3), RGB. Pillow reads the file; an
unreadable file, a mode that is not a colour picture (palette and greyscale are converted
as Pillow does, anything else is refused), or a size that differs from the one a patch
embedding was built for (when resizing is off) is a :class:`~lmlab.errors.DataError` that
names the file and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmlab.errors import DataError

CONVERTIBLE_MODES = ("RGB", "RGBA", "P", "L", "LA", "PA")
"""Modes that are pictures Pillow converts to RGB without guessing (RGBA and LA are laid
on white, as a page shows them). CMYK, I;16, F (float) and the like are refused."""


def load_image(path: str | Path, size: int | None = None, resize: bool = True) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 RGB. With ``size``: (size, size, 3); a
    picture of another size is resized (bilinear) when ``resize``, else refused."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            picture = image.copy()
    except FileNotFoundError:
        raise DataError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable image ({type(error).__name__}: "
                        f"{str(error)[:120]}); expected a PNG or JPEG picture") from None
    if picture.mode not in CONVERTIBLE_MODES:
        raise DataError(f"{path}: image mode {picture.mode!r} is not a colour picture; "
                        f"expected one of {', '.join(CONVERTIBLE_MODES)}")
    array = to_rgb(picture)
    if size is not None and array.shape[:2] != (size, size):
        if not resize:
            raise DataError(f"{path}: image is {array.shape[1]}x{array.shape[0]}, the patch "
                            f"embedding takes {size}x{size}; resize it or set resize: true")
        array = resize_rgb(array, size)
    return array


def to_rgb(picture) -> np.ndarray:
    """A Pillow image as (H, W, 3) uint8 RGB; transparency composited on white."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "PA", "P"):
        rgba = picture.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, rgba)
    return np.asarray(picture.convert("RGB"), dtype=np.uint8).copy()


def resize_rgb(array: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, bilinear (Pillow's, deterministic)."""
    from PIL import Image

    picture = Image.fromarray(array, mode="RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(picture, dtype=np.uint8).copy()


def check_image_batch(images: np.ndarray, size: int, source: str) -> None:
    """Refuse an image array that a ``size`` x ``size`` patch embedding cannot take:
    ``images`` must be (N, size, size, 3) uint8; ``source`` names where it came from."""
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise DataError(f"{source}: images have shape {tuple(images.shape)}, expected "
                        f"(N, {size}, {size}, 3); build the cache again with size {size}")
    if images.dtype != np.uint8:
        raise DataError(f"{source}: images are {images.dtype}, expected uint8")
