"""Atomic file writes: a reader sees the old file or the new one, never half of one.

A rename is atomic only for what already reached the disk: after a power cut the renamed
name may point at a file whose data was never written. So the data is fsync'd before the
rename and the folder after it (the rename itself lives in the folder). This costs one
flush per file, nothing per byte: cheap beside a checkpoint's write.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented UTF-8 JSON: a temporary sibling, then a rename over ``path``."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8: a temporary sibling, then a rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_folder(path.parent)


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to the disk (opened read-only: fsync acts on the file, not on
    the handle, so data written by another handle is flushed too)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_folder(path: Path) -> None:
    """Flush ``path``'s entries (created, renamed, deleted names) to the disk. Windows
    cannot open a folder for this; its file system journals renames itself."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, then each folder (deepest first, so a folder is
    flushed after the files it names)."""
    folder = Path(folder)
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file():
            fsync_file(path)
        elif path.is_dir():
            fsync_folder(path)
    fsync_folder(folder)
