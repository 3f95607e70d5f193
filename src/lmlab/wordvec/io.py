"""Word-vector files: word2vec text and binary formats, and safetensors.

* **text** (word2vec.c ``-binary 0``): a header ``V D``, then one line per word: the word
  and D decimal numbers, space-separated;
* **binary** (``-binary 1``): the same header, then per word: the UTF-8 word, one space,
  D little-endian float32, and a newline (word2vec.c writes it; readers skip it);
* **safetensors**: tensor ``vectors`` (V, D) float32; the words, in row order, are the JSON
  list in the metadata key ``words``.

Files written here load in gensim (``KeyedVectors.load_word2vec_format``) and word2vec.c's
tools, and files they write load here. :func:`load_vectors` is the entry point other parts
of lmlab use to initialise a token embedding.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np

from lmlab.errors import CheckpointError, DataError
from lmlab.manifest import MANIFEST, verify_folder

VectorFormat = Literal["text", "binary", "safetensors"]


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _check(words: list[str], vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise DataError(f"{len(words)} words but vectors of shape {vectors.shape}")
    for word in words:
        if not word or any(ch.isspace() for ch in word):
            raise DataError(f"word {word!r} is empty or contains whitespace; the word2vec "
                            f"formats cannot store it")
    return vectors


def format_of(path: str | Path) -> VectorFormat:
    """Guess the format from the suffix: .safetensors, .bin → binary, else text."""
    suffix = Path(path).suffix.lower()
    if suffix == ".safetensors":
        return "safetensors"
    return "binary" if suffix == ".bin" else "text"


def save_vectors(path: str | Path, words: list[str], vectors: np.ndarray,
                 fmt: VectorFormat | None = None) -> Path:
    """Write ``vectors`` (V, D) with ``words`` in ``fmt`` (default: from the suffix)."""
    path = Path(path)
    vectors = _check(words, vectors)
    fmt = fmt or format_of(path)
    if fmt == "safetensors":
        from safetensors.numpy import save
        data = save({"vectors": np.ascontiguousarray(vectors)},
                    metadata={"words": json.dumps(words, ensure_ascii=False)})
        _atomic_write(path, lambda out: out.write(data))
        return path
    header = f"{len(words)} {vectors.shape[1]}\n".encode()

    def write(out) -> None:
        out.write(header)
        little = vectors.astype("<f4")
        for word, row in zip(words, little):
            if fmt == "binary":
                out.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:  # repr of float32 keeps every digit needed to read it back exactly
                out.write((word + " " + " ".join(repr(float(v)) for v in row) + "\n").encode())
    if fmt not in ("text", "binary"):
        raise DataError(f"unknown vector format {fmt!r} (text, binary, safetensors)")
    _atomic_write(path, write)
    return path


def _parse_header(line: bytes, path: Path) -> tuple[int, int]:
    parts = line.split()
    try:
        count, size = int(parts[0]), int(parts[1])
        assert len(parts) == 2 and count >= 0 and size > 0
    except (ValueError, IndexError, AssertionError):
        raise DataError(f"{path}:1: expected a header 'VOCAB_SIZE DIMENSION', got "
                        f"{line[:60]!r}") from None
    return count, size


def _load_binary(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, "rb") as handle:
        count, size = _parse_header(handle.readline(), path)
        data = handle.read()
    words, vectors = [], np.empty((count, size), dtype=np.float32)
    position, row_bytes = 0, 4 * size
    for row in range(count):
        while position < len(data) and data[position:position + 1] in (b"\n", b" "):
            position += 1  # the newline word2vec.c writes after each vector
        end = data.find(b" ", position)
        if end < 0 or end + 1 + row_bytes > len(data):
            raise DataError(f"{path}: the header promises {count} vectors of dimension "
                            f"{size}, but the file ends at vector {row + 1}")
        try:
            words.append(data[position:end].decode("utf-8"))
        except UnicodeDecodeError:
            raise DataError(f"{path}: word {row + 1} at byte {position} is not UTF-8; "
                            f"is this a text-format file? (use a .txt suffix)") from None
        vectors[row] = np.frombuffer(data, dtype="<f4", count=size, offset=end + 1)
        position = end + 1 + row_bytes
    if data[position:].strip():
        raise DataError(f"{path}: bytes left after {count} vectors of dimension {size}; "
                        f"the header does not match the data")
    return words, vectors


def _load_text(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, "rb") as handle:
        count, size = _parse_header(handle.readline(), path)
        words, vectors = [], np.empty((count, size), dtype=np.float32)
        for line_number, raw in enumerate(handle, start=2):
            if not raw.strip():
                continue
            if len(words) == count:
                raise DataError(f"{path}:{line_number}: more vectors than the header's {count}")
            try:
                parts = raw.decode("utf-8").rstrip().split(" ")
            except UnicodeDecodeError:
                raise DataError(f"{path}:{line_number}: not UTF-8 text; is this a "
                                f"binary-format file? (use a .bin suffix)") from None
            if len(parts) != size + 1:
                raise DataError(f"{path}:{line_number}: {len(parts) - 1} numbers after "
                                f"{parts[0]!r}, but the header says dimension {size}")
            try:
                vectors[len(words)] = [float(v) for v in parts[1:]]
            except ValueError as error:
                raise DataError(f"{path}:{line_number}: {error}") from None
            words.append(parts[0])
    if len(words) != count:
        raise DataError(f"{path}: the header promises {count} vectors, the file has {len(words)}")
    return words, vectors


def _load_safetensors(path: Path) -> tuple[list[str], np.ndarray]:
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            vectors = handle.get_tensor("vectors").astype(np.float32)
    except Exception as error:  # safetensors raises its own error types
        raise DataError(f"{path}: not a readable safetensors file with a 'vectors' "
                        f"tensor ({error})") from None
    if "words" not in metadata:
        raise DataError(f"{path}: no 'words' list in the safetensors metadata")
    words = json.loads(metadata["words"])
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise DataError(f"{path}: {len(words)} words but vectors of shape {vectors.shape}")
    return words, vectors


def _check_manifest_written(folder: Path) -> None:
    """A run folder whose ``run.json`` says a manifest follows must have it: without one
    the training was killed after its files and before its manifest."""
    info = folder / "run.json"
    if (folder / MANIFEST).is_file() or not info.is_file():
        return
    try:
        follows = json.loads(info.read_text(encoding="utf-8")).get("manifest")
    except (ValueError, UnicodeDecodeError):
        follows = MANIFEST  # a torn run.json: the write was interrupted too
    if follows:
        raise CheckpointError(f"{folder}: no {MANIFEST}, though its run.json says the "
                              f"training writes one: the training was interrupted; train "
                              f"again with 'lmlab embed train ... --out {folder} --overwrite'")


def load_vectors(path: str | Path, fmt: VectorFormat | None = None) -> tuple[list[str], np.ndarray]:
    """Read a vectors file: (words, float32 array (V, D)); row i is the vector of words[i].

    A run folder (``lmlab embed train --out DIR``) is accepted too: its ``vectors.bin``,
    after the folder's files are checked against its manifest.
    """
    path = Path(path)
    if path.is_dir():
        _check_manifest_written(path)
        verify_folder(path, required=("vectors.bin",))
        path = path / "vectors.bin"
    if not path.exists():
        raise DataError(f"{path}: no such vectors file")
    fmt = fmt or format_of(path)
    if fmt == "safetensors":
        return _load_safetensors(path)
    return _load_binary(path) if fmt == "binary" else _load_text(path)
