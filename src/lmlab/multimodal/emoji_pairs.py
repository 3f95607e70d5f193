"""Emoji image–text pairs (issue 22): pictures of Debian's ``fonts-noto-color-emoji``, captions
from the PyPI ``emoji`` package's names in English and Chinese.

Each single-code-point emoji of ``emoji.EMOJI_DATA`` (a trailing variation selector U+FE0F
dropped; skin-tone and hair *components* left out) is drawn with Pillow at the bitmap
font's one size (``ImageFont.truetype(path, 109)``, ``embedded_color=True``) on a
transparent 136x128 canvas, laid on white and resized (bilinear) to ``size`` x ``size``;
emoji the font has no glyph for (fully transparent) are dropped. Captions: the English CLDR
name (``dog face``), its aliases (``dog``), and the Chinese name
(``emoji.config.load_language('zh')``: ``狗脸``). A seeded permutation holds
``test_fraction`` of the pairs out (retrieval is measured on them).

:func:`build_pairs` writes them once to a cache folder — ``images.npy`` (N, S, S, 3) uint8
and ``captions.json`` — and reuses them while the font file's SHA-256, the size, the seed and
the split are unchanged: the same font file and seed give the same pairs, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmlab import atomic
from lmlab.errors import DataError
from lmlab.multimodal.images import check_image_batch, resize_rgb, to_rgb

FONT_SIZE = 109  # the only size of Noto Color Emoji's CBDT bitmaps
CANVAS = (136, 128)  # the glyph's advance x the font's line height at size 109
FONT_PATHS = ("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
              "/usr/share/fonts/noto/NotoColorEmoji.ttf")
VARIATION_SELECTOR = "\ufe0f"
FORMAT = 1


@dataclass
class EmojiPairs:
    images: np.ndarray  # (N, S, S, 3) uint8
    captions: list[dict]  # {"emoji", "codepoint", "en", "aliases", "zh", "split"}
    folder: Path

    def split(self, name: str) -> tuple[np.ndarray, list[dict]]:
        """(images, captions) of ``train`` or ``test``."""
        rows = [i for i, c in enumerate(self.captions) if c["split"] == name]
        return self.images[rows], [self.captions[i] for i in rows]


def find_font(path: str | Path | None = None) -> Path:
    """The emoji font: ``path``, ``$LMLAB_EMOJI_FONT``, or Debian's location."""
    candidates = [path] if path else [os.environ.get("LMLAB_EMOJI_FONT"), *FONT_PATHS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    where = path or " or ".join(FONT_PATHS)
    raise DataError(f"{where}: no emoji font file; install Debian's fonts-noto-color-emoji "
                    f"(apt-get install fonts-noto-color-emoji) or set LMLAB_EMOJI_FONT")


def emoji_entries() -> list[dict]:
    """One entry per single-code-point emoji with an English and a Chinese name, sorted by
    code point: {"emoji", "codepoint", "en", "aliases", "zh"}."""
    import emoji

    emoji.config.load_language("zh")  # adds the "zh" names to EMOJI_DATA (package data)
    components = emoji.STATUS["component"]
    chosen: dict[str, dict] = {}
    for text, data in emoji.EMOJI_DATA.items():
        base = text.replace(VARIATION_SELECTOR, "")
        if len(base) != 1 or data.get("status") == components or "zh" not in data:
            continue
        if base in chosen:
            continue
        chosen[base] = {"emoji": base, "codepoint": f"U+{ord(base):04X}",
                        "en": _name(data["en"]),
                        "aliases": [_name(alias) for alias in data.get("alias", [])
                                    if _name(alias) != _name(data["en"])],
                        "zh": _name(data["zh"])}
    return [chosen[key] for key in sorted(chosen, key=ord)]


def _name(code: str) -> str:
    """``:dog_face:`` -> ``dog face``."""
    return code.strip(":").replace("_", " ").strip()


def render(character: str, font) -> np.ndarray | None:
    """(128, 136, 3) uint8 of one emoji on white, or None when the glyph is blank."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGBA", CANVAS, (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), character, font=font, embedded_color=True)
    if np.asarray(canvas)[..., 3].max() == 0:
        return None
    return to_rgb(canvas)


def font_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_pairs(cache: str | Path, size: int = 32, seed: int = 0, test_fraction: float = 0.2,
                font_path: str | Path | None = None, limit: int = 0) -> EmojiPairs:
    """Render (or reuse) the pairs in ``cache``/emoji-<size>-<seed>-<font digest>/.
    ``limit`` keeps the first n emoji by code point (tests)."""
    from PIL import ImageFont

    if size < 1 or not 0.0 <= test_fraction < 1.0:
        raise DataError(f"emoji pairs: size must be >= 1 and test_fraction in [0, 1), got "
                        f"{size} and {test_fraction}")
    font_file = find_font(font_path)
    digest = font_digest(font_file)
    key = {"format": FORMAT, "font_sha256": digest, "size": size, "seed": seed,
           "test_fraction": test_fraction, "limit": limit}
    folder = Path(cache) / f"emoji-{size}-{seed}-{limit}-{digest[:12]}"
    if (folder / "meta.json").is_file():
        return read_pairs(folder, key)
    try:
        font = ImageFont.truetype(str(font_file), FONT_SIZE)
    except OSError as error:
        raise DataError(f"{font_file}: not a readable font ({error}); expected Noto Color "
                        f"Emoji (size {FONT_SIZE} bitmaps)") from None
    entries = emoji_entries()[:limit or None]
    images, captions = [], []
    for entry in entries:
        picture = render(entry["emoji"], font)
        if picture is None:
            continue
        images.append(resize_rgb(picture, size))
        captions.append(entry)
    if not images:
        raise DataError(f"{font_file}: no emoji rendered (every glyph blank); expected a "
                        f"colour emoji font")
    order = np.random.default_rng(seed).permutation(len(captions))
    held_out = set(order[:int(round(test_fraction * len(captions)))].tolist())
    for row, caption in enumerate(captions):
        caption["split"] = "test" if row in held_out else "train"
    stacked = np.stack(images)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / "images.npy.tmp"
    with open(temporary, "wb") as handle:
        np.save(handle, stacked)
    os.replace(temporary, folder / "images.npy")
    atomic.write_text(folder / "captions.json", json.dumps(captions, ensure_ascii=False, indent=0))
    atomic.write_json(folder / "meta.json", {**key, "count": len(captions),
                                             "font": str(font_file)})  # written last
    return EmojiPairs(stacked, captions, folder)


def read_pairs(folder: Path, key: dict | None = None) -> EmojiPairs:
    """The pairs a :func:`build_pairs` wrote; ``key``: what its meta.json must match."""
    meta_path = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        captions = json.loads((folder / "captions.json").read_text(encoding="utf-8"))
        images = np.load(folder / "images.npy", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"{folder}: an unreadable emoji-pair cache ({type(error).__name__}: "
                        f"{str(error)[:120]}); delete the folder to build it again") from None
    if key is not None and any(meta.get(name) != value for name, value in key.items()):
        raise DataError(f"{meta_path}: built with other settings than {key}; delete the "
                        f"folder to build it again")
    if len(captions) != len(images):
        raise DataError(f"{folder}: {len(images)} images but {len(captions)} captions; "
                        f"delete the folder to build it again")
    check_image_batch(images, int(meta["size"]), str(folder / "images.npy"))
    return EmojiPairs(images, captions, folder)
