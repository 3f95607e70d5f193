"""Entity and relation embeddings on disk: ``embeddings.safetensors`` (tensors "entities"
(N, D) and "relations" (R, D)) beside ``entities.txt`` and ``relations.txt`` (one name a
line, line i naming row i). ERNIE-THU and KnowBERT read entity vectors this way.

Each file is written to a temporary sibling and renamed; a vocabulary whose length or
names do not match the tensors is a one-line DataError naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.atomic import fsync_folder, write_text
from lmlab.errors import DataError

TENSORS = "embeddings.safetensors"
VOCABULARIES = {"entities": "entities.txt", "relations": "relations.txt"}


@dataclass
class Embeddings:
    entities: list[str]
    relations: list[str]
    entity_vectors: torch.Tensor    # (N, D)
    relation_vectors: torch.Tensor  # (R, D)

    def entity(self, name: str) -> torch.Tensor:
        return self.entity_vectors[self.entities.index(name)]


def save_embeddings(folder: str | Path, embeddings: Embeddings) -> None:
    from safetensors.torch import save_file

    folder = Path(folder)
    temporary = folder / f".{TENSORS}.tmp"
    save_file({"entities": embeddings.entity_vectors.detach().contiguous(),
               "relations": embeddings.relation_vectors.detach().contiguous()}, str(temporary))
    os.replace(temporary, folder / TENSORS)
    fsync_folder(folder)
    write_text(folder / VOCABULARIES["entities"], "".join(f"{n}\n" for n in embeddings.entities))
    write_text(folder / VOCABULARIES["relations"],
               "".join(f"{n}\n" for n in embeddings.relations))


def _vocabulary(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such vocabulary file; expected one name a line beside "
                        f"{TENSORS}")
    names = path.read_text(encoding="utf-8").splitlines()
    seen: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if not name or name != name.strip():
            raise DataError(f"{path}, line {number}: empty name or surrounding spaces")
        if name in seen:
            raise DataError(f"{path}, line {number}: {name!r} repeats line {seen[name]}")
        seen[name] = number
    return names


def load_embeddings(folder: str | Path) -> Embeddings:
    """Read what :func:`save_embeddings` wrote, checking that each vocabulary has one name
    for each row of its tensor."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    path = folder / TENSORS
    if not path.is_file():
        raise DataError(f"{path}: no such embeddings file")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise DataError(f"{path}: not a readable safetensors file ({error})") from None
    vocabularies = {}
    for key, file_name in VOCABULARIES.items():
        names = _vocabulary(folder / file_name)
        if key not in tensors or tensors[key].dim() != 2:
            raise DataError(f"{path}: expected a 2-D tensor {key!r}")
        if len(names) != tensors[key].shape[0]:
            raise DataError(f"{folder / file_name}: {len(names)} names, but {TENSORS} holds "
                            f"{tensors[key].shape[0]} {key} vectors; the vocabulary does not "
                            f"belong to these embeddings")
        vocabularies[key] = names
    return Embeddings(vocabularies["entities"], vocabularies["relations"],
                      tensors["entities"], tensors["relations"])
