"""Opening what a command writes: nothing is overwritten silently, no folder mixes models.

Every command that writes a run folder or a result file opens it here (issue 16):

* a folder that is new or empty is used as it is;
* a folder that already holds an lmlab output of the same kind is refused, unless the
  command continues it (``resume``: ``finetune --resume``, ``compare``, ``benchmark``) or
  the user asks to replace it (``--overwrite``: the folder is emptied first, so the old and
  the new model never sit side by side);
* a folder that holds another kind of model is refused (an n-gram marker beside a neural
  checkpoint makes ``eval`` and ``generate`` read the wrong model), or emptied with
  ``--overwrite``;
* a non-empty folder that lmlab did not write is never emptied, not even with
  ``--overwrite`` (``--out .`` must not delete a home directory);
* a file is refused when it exists (unless ``--overwrite``) and always when it is one of
  the command's inputs (``predict --input x --out x`` would destroy ``x``);
* a place that cannot be written (read-only folder or mount, a file where a folder is
  needed) is refused before any work, not when the result is saved.

A prepared folder gets a small marker naming its kind, so a folder interrupted before
its model was written is still recognised.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lmlab.errors import LmlabError

MARKER = ".lmlab-output"

# Files (glob patterns) that say which kind of output a folder holds, checked in this
# order: a fine-tuned run also holds a checkpoint, so "finetune" comes before "neural".
SIGNATURES: dict[str, tuple[str, ...]] = {
    "ngram": ("ngram.json",),
    "finetune": ("finetune.json",),
    "compress": ("compression.json",),
    "feature_based": ("feature_based.json",),
    "neural": ("checkpoint", "checkpoint.previous", "model.safetensors", "metrics.jsonl"),
    "wordvec": ("vectors.bin",),
    "transe": ("transe.json",),
    "gloss": ("gloss.json",),
    "compare": ("compare.md", "table1.json", "pretrain"),
    "benchmark": ("benchmark_*.json",),
    # Recognised by the marker alone: a folder of someone else's HF or ONNX files
    # (config.json, model.safetensors) is never taken for lmlab's and emptied.
    "hf": (),
    "onnx": (),
}
DESCRIPTIONS = {
    "ngram": "an n-gram model", "finetune": "a fine-tuning", "neural": "a run",
    "feature_based": "a feature-based run", "compress": "a compressed model",
    "wordvec": "word vectors", "compare": "a comparison", "benchmark": "a benchmark",
    "transe": "TransE embeddings", "gloss": "gloss embeddings",
    "hf": "an HF transformers export", "onnx": "an ONNX export",
}
CONTINUE_HINTS = {"finetune": "continue it with --resume, ",
                  "neural": "continue it with 'lmlab train --resume {path}', "}


class OutputExistsError(LmlabError):
    """The output folder or file holds something that would be lost or mixed."""


class OutputNotWritableError(LmlabError):
    """The output folder or file cannot be written (read-only, a file in the way, ...)."""


def kind_of(folder: str | Path) -> str | None:
    """The kind of lmlab output in ``folder`` (a key of SIGNATURES), or None."""
    folder = Path(folder)
    marker = folder / MARKER
    if marker.is_file():
        kind = marker.read_text(encoding="utf-8").strip()
        if kind in SIGNATURES:
            return kind
    for kind, patterns in SIGNATURES.items():
        if any(next(folder.glob(pattern), None) is not None for pattern in patterns):
            return kind
    return None


def _is_empty(folder: Path) -> bool:
    """Nothing in it but perhaps our marker (a command that failed before writing)."""
    return all(entry.name == MARKER for entry in folder.iterdir())


def _refusal(path: Path, kind: str, found: str | None) -> str:
    """Why ``path`` cannot take an output of ``kind``, and what to do instead."""
    if found is None:
        return (f"{path} is not empty and holds no lmlab output; choose a new or empty --out "
                f"(--overwrite replaces only a folder lmlab wrote; nothing was changed)")
    if found != kind:
        return (f"{path} holds {DESCRIPTIONS[found]}, not {DESCRIPTIONS[kind]}: a folder holds "
                f"one kind of model; choose another --out, or replace it with --overwrite "
                f"(nothing was changed)")
    hint = CONTINUE_HINTS.get(kind, "").format(path=path)
    return (f"{path} already holds {DESCRIPTIONS[kind]}; {hint}choose another --out, or "
            f"replace it with --overwrite (nothing was overwritten)")


def prepare_output_folder(path: str | Path, kind: str, overwrite: bool = False,
                          resume: bool = False) -> Path:
    """Create or check the folder an output of ``kind`` is written to; returns it.

    ``resume``: an output of the same kind is kept to be continued. ``overwrite`` (which
    wins over ``resume``): an lmlab output of any kind is removed first. Anything else that would be lost or mixed
    raises :class:`OutputExistsError` before a byte is written.
    """
    if kind not in SIGNATURES:
        raise ValueError(f"unknown output kind {kind!r}")  # a programming error, not the user's
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} is a file, not a folder; choose another --out")
    if path.is_dir() and not _is_empty(path):
        found = kind_of(path)
        if found is None or not (overwrite or (resume and found == kind)):
            raise OutputExistsError(_refusal(path, kind, found))
        if not overwrite:
            _check_writable(path)
            return path  # continued
        shutil.rmtree(path)
    try:  # writing the marker is the test that the folder is writable, before any work
        path.mkdir(parents=True, exist_ok=True)
        (path / MARKER).write_text(kind + "\n", encoding="utf-8")
    except OSError as error:
        raise OutputNotWritableError(_unwritable(path, error)) from None
    return path


def _unwritable(path: Path, error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    where = f" ({error.filename})" if error.filename and Path(error.filename) != path else ""
    return (f"--out {path}: cannot write there: {reason}{where}; choose a writable --out "
            f"(nothing was written)")


def _check_writable(folder: Path) -> None:
    """Create and remove a probe file: the only test that also sees read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".lmlab-probe-"):
            pass
    except OSError as error:
        raise OutputNotWritableError(_unwritable(folder, error)) from None


def prepare_output_file(path: str | Path, overwrite: bool = False, inputs=()) -> Path:
    """Check the file an output is written to and create its folder; returns the path.

    Refused when it is one of ``inputs`` (always) or exists (unless ``overwrite``).
    """
    path = Path(path)
    for given in inputs:
        if Path(given).resolve() == path.resolve():
            raise OutputExistsError(f"--out {path} is also an input of this command; writing "
                                    f"it would destroy the input: choose another --out")
    if path.is_dir():
        raise OutputExistsError(f"--out {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"--out {path} already exists; choose another --out or pass "
                                f"--overwrite to replace it (nothing was overwritten)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputNotWritableError(_unwritable(path, error)) from None
    _check_writable(path.parent)
    return path
