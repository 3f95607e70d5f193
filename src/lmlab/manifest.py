"""Checksum manifests: every folder lmlab writes says which bytes it wrote (issue 16).

A checkpoint folder or run folder gets ``manifest.json`` as its last file, written
atomically: the sha256 and size of every other file in it (hidden names, such as the
output marker or a temporary file, are not listed). A loader calls :func:`verify_folder`
before reading anything, so a flipped byte, a truncated file, a missing file or a file
edited after the run (an ``model.arpa`` changed by hand beside the ``model.npz`` that was
built with it) is one line naming that file and what was expected, never a model that
loads with other numbers. A folder written before manifests existed loads with a
one-line warning.

Hashing streams 1 MiB blocks: the memory cost is one block, the time one read of the
folder (about a second per GB).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.errors import CheckpointError

MANIFEST = "manifest.json"
FORMAT = "lmlab-manifest/1"
BLOCK = 1 << 20  # bytes hashed per read


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _listed_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` but the manifest and hidden names (sorted, relative)."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.as_posix() != MANIFEST and \
                not any(part.startswith(".") for part in relative.parts):
            found.append(relative)
    return found


def write_manifest(folder: str | Path, in_temporary_folder: bool = False) -> Path:
    """Hash every file in ``folder`` and write ``folder/manifest.json`` (last).

    Atomic (temporary file, fsync, rename), unless ``in_temporary_folder``: a folder that is
    itself swapped in by a rename once complete (a checkpoint) needs no second rename."""
    folder = Path(folder)
    files = {relative.as_posix(): {"sha256": file_sha256(folder / relative),
                                   "bytes": (folder / relative).stat().st_size}
             for relative in _listed_files(folder)}
    path = folder / MANIFEST
    data = {"format": FORMAT, "files": files}
    if in_temporary_folder:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    else:
        write_json(path, data)
    return path


def warn(message: str) -> None:
    print(f"lmlab: warning: {message}", file=sys.stderr)


def read_manifest(folder: Path) -> dict[str, dict] | None:
    """``{name: {"sha256", "bytes"}}`` of ``folder``'s manifest; None when there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        ok = data.get("format") == FORMAT and isinstance(files, dict) and all(
            isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("bytes"), int) for entry in files.values())
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path}: damaged manifest (expected JSON with format {FORMAT!r} "
                              f"and a sha256 and size per file); the folder cannot be verified")
    return files


def find_problems(folder: str | Path, required: tuple[str, ...] = ()) -> dict[str, str] | None:
    """``{name: one line}`` for every file of ``folder``'s manifest that is missing,
    truncated or changed, ``{}`` when all match; None (after a one-line warning) when the
    folder has no manifest (written by an lmlab older than manifests).

    ``required``: names the manifest must list (else it is another kind of folder's)."""
    folder = Path(folder)
    files = read_manifest(folder)
    if files is None:
        warn(f"{folder}: no {MANIFEST} (written by an lmlab older than checksum manifests); "
             f"loading it unverified")
        return None
    problems = {name: f"{folder}/{MANIFEST} does not list {name}; expected the manifest of "
                      f"the folder that holds it" for name in required if name not in files}
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            problems[name] = (f"{path}: missing; the manifest expects {entry['bytes']} bytes "
                              f"with sha256 {entry['sha256'][:16]}…")
            continue
        size = path.stat().st_size
        if size != entry["bytes"]:
            problems[name] = (f"{path}: {size} bytes, the manifest expects {entry['bytes']} "
                              f"(truncated or changed after it was written)")
            continue
        digest = file_sha256(path)
        if digest != entry["sha256"]:
            problems[name] = (f"{path}: damaged or changed after it was written (sha256 "
                              f"{digest[:16]}…, the manifest expects {entry['sha256'][:16]}…)")
    return problems


def describe(problems: dict[str, str], advice: str = "") -> str:
    """One line: the first problem, how many more, and ``advice``."""
    first, *others = problems.values()
    more = f" (and {len(others)} more damaged file(s): {', '.join(list(problems)[1:4])})" \
        if others else ""
    return first + more + (f"; {advice}" if advice else "")


def verify_folder(folder: str | Path, required: tuple[str, ...] = (), advice: str = "") -> bool:
    """Raise :class:`CheckpointError` naming the first damaged, missing or truncated file of
    ``folder`` (see :func:`find_problems`); True when verified, False when unverifiable."""
    problems = find_problems(folder, required)
    if problems:
        raise CheckpointError(describe(problems, advice))
    return problems is not None
