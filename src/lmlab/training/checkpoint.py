"""Checkpoints (DESIGN §4): a folder written atomically, loaded without unpickling code.

``<run>/checkpoint/`` holds ``model.safetensors``, ``config.yaml``, ``tokenizer/``,
``trainer_state.pt`` (optimizer, scheduler, RNG, data position, objective state) and,
written last, ``manifest.json`` (sha256 per file, checked before anything is loaded). It is
written to a temporary sibling, fsync'd, and swapped in by renames, so a run killed at any
moment (or a power cut) leaves either the previous checkpoint or the new one, never a mix. ``trainer_state.pt`` is
read with ``torch.load(weights_only=True)``: tensors and plain containers only.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_file, save_model

from lmlab.atomic import fsync_folder, fsync_tree
from lmlab.config import RunConfig, dump_config, from_dict, load_raw
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError, ConfigError
from lmlab.manifest import MANIFEST, verify_folder, write_manifest
from lmlab.registry import build_model, build_objectives
from lmlab.training import sharded_checkpoint as shards

CHECKPOINT = "checkpoint"
_PREVIOUS = "checkpoint.previous"


def checkpoint_folder(path: str | Path, verify: bool = True, sharded_ok: bool = False) -> Path:
    """Accept a run folder or a checkpoint folder; return the checkpoint folder, its files
    checked against its manifest (``verify``). A sharded checkpoint (FSDP rank files) is
    refused in one line unless the caller reads it through :func:`load_weights` and
    :func:`load_trainer_state` (``sharded_ok``)."""
    path = Path(path)
    for folder in (path, path / CHECKPOINT, path / _PREVIOUS):  # _PREVIOUS: a swap cut half-way
        # A manifest beside config.yaml marks a checkpoint whose weights went missing.
        if (folder / "model.safetensors").exists() or \
                ((folder / MANIFEST).exists() and (folder / "config.yaml").exists()):
            sharded = shards.is_sharded(folder)
            if sharded and not sharded_ok:
                raise CheckpointError(f"{folder}: a sharded checkpoint (one file per FSDP rank); "
                                      f"write its single-file form first with: lmlab "
                                      f"consolidate {path}")
            if verify:
                verify_folder(folder, required=("config.yaml",) if sharded
                              else ("model.safetensors", "config.yaml"))
            return folder
    if not path.exists():
        raise CheckpointError(f"{path}: no such run folder")
    raise CheckpointError(f"{path}: no checkpoint here (expected {path / CHECKPOINT}/"
                          f"model.safetensors)")


def save_checkpoint(run_dir: Path, model, config: RunConfig, tokenizer: TextTokenizer,
                    trainer_state: dict, weights: dict | None = None,
                    temporary: Path | None = None) -> Path:
    """Write the checkpoint into a temporary sibling, then swap it in by renames.

    At every instant a complete checkpoint exists: ``checkpoint/``, or ``checkpoint.previous/``
    while the swap is half-way. A save that follows an interrupted swap (``checkpoint/``
    missing) therefore keeps ``checkpoint.previous/`` until the new folder is in place; it
    is the only complete checkpoint then, and deleting it first left a run killed twice with
    none. Temporary folders left by a killed save are removed. ``weights``: the model's
    whole state dict (one name per tied tensor) when ``model`` itself is sharded (FSDP).
    ``temporary``: a folder from :func:`new_temporary` into which every rank of a sharded
    save has written its rank files (then no ``model.safetensors`` is written)."""
    sharded = temporary is not None
    if temporary is None:
        temporary = new_temporary(run_dir, model)
    try:
        _write_checkpoint(temporary, model, config, tokenizer, trainer_state, weights, sharded)
        final, previous = run_dir / CHECKPOINT, run_dir / _PREVIOUS
        if final.exists():
            if previous.exists():  # left by a killed delete; checkpoint/ is complete
                shutil.rmtree(previous)
            os.replace(final, previous)
        os.replace(temporary, final)
        fsync_folder(run_dir)  # the renames themselves
        if previous.exists():
            shutil.rmtree(previous)
    except OSError as error:
        raise CheckpointError(_write_failure(run_dir, error)) from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return run_dir / CHECKPOINT


def new_temporary(run_dir: Path, model) -> Path:
    """The temporary folder a save writes into (stale ones removed, free space checked)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    _check_free_space(run_dir, model)
    return Path(tempfile.mkdtemp(dir=run_dir, prefix=".checkpoint-"))


def write_rank_files(temporary: Path, weights: dict, optimizer_tensors: dict, rank: int,
                     size: int) -> None:
    """This rank's part of a sharded save (see :mod:`lmlab.training.sharded_checkpoint`)."""
    try:
        shards.write_rank_file(temporary / shards.rank_file("model", rank, size), weights, rank)
        shards.write_rank_file(temporary / shards.rank_file("optimizer", rank, size),
                               optimizer_tensors, rank)
    except OSError as error:
        raise CheckpointError(_write_failure(temporary.parent, error)) from None


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Remove the ``.checkpoint-*`` folders a killed save leaves (never loaded: only a
    complete folder is renamed to ``checkpoint/``); returns them."""
    stale = sorted(run_dir.glob(".checkpoint-*"))
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _check_free_space(run_dir: Path, model) -> None:
    """Refuse a save that cannot fit: the new checkpoint is written beside the kept one, so
    it needs about the previous checkpoint's size (on a first save, the weights' size)."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    kept = run_dir / CHECKPOINT
    needed = max(weights, folder_bytes(kept) if kept.is_dir() else 0)
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise CheckpointError(f"{run_dir}: not enough free disk space for a checkpoint "
                              f"({free / 2**20:.1f} MiB free, about {needed / 2**20:.1f} MiB "
                              f"needed); free some space and resume (the last checkpoint is kept)")


def _write_failure(run_dir: Path, error: OSError) -> str:
    where = error.filename or run_dir
    reason = "the disk is full" if error.errno == errno.ENOSPC else \
        (error.strerror or type(error).__name__)
    return (f"{where}: cannot write the checkpoint: {reason}; the last complete checkpoint in "
            f"{run_dir} is kept (free some space and resume)")


def _write_checkpoint(temporary: Path, model, config: RunConfig, tokenizer: TextTokenizer,
                      trainer_state: dict, weights: dict | None = None,
                      sharded: bool = False) -> None:
    if sharded:
        pass  # the ranks wrote model-*-of-*.safetensors already
    elif weights is None:
        save_model(model, str(temporary / "model.safetensors"))
    else:  # the whole state dict of a sharded (FSDP) model, gathered on rank 0
        save_file(weights, str(temporary / "model.safetensors"), metadata={"format": "pt"})
    (temporary / "config.yaml").write_text(dump_config(config))
    tokenizer.save(temporary / "tokenizer")
    torch.save(trainer_state, temporary / "trainer_state.pt")
    write_manifest(temporary, in_temporary_folder=True)  # last: vouches for the files above
    fsync_tree(temporary)  # the data on disk before a name points at it


def read_checkpoint_raw(folder: Path) -> dict:
    """The raw ``config.yaml`` of a checkpoint folder; a missing or unreadable one is a
    one-line :class:`CheckpointError` naming it."""
    path = Path(folder) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{folder}: no config.yaml; an lmlab checkpoint holds config.yaml, "
                              f"model.safetensors and tokenizer/ (as lmlab train and lmlab "
                              f"finetune write them)")
    try:
        return load_raw(path)
    except ConfigError as error:
        raise CheckpointError(str(error)) from None  # load_raw names the file


def load_checkpoint_config(folder: Path) -> RunConfig:
    raw = read_checkpoint_raw(folder)
    try:
        return from_dict(RunConfig, raw)
    except ConfigError as error:
        raise CheckpointError(f"{folder}/config.yaml: {error}") from None


def load_weights(model, folder: Path) -> None:
    """Load ``model.safetensors`` (or a sharded checkpoint's rank files, concatenated)
    strictly; name the first mismatching key on failure."""
    if shards.is_sharded(folder):
        _load_whole_state(model, shards.assemble_weights(folder), folder)
        return
    try:
        missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    except SafetensorError as error:  # a truncated or zero-length file (no manifest caught it)
        raise CheckpointError(f"{folder}/model.safetensors: not a complete safetensors file "
                              f"({str(error).strip().splitlines()[0]}); expected the weights "
                              f"lmlab saved: the checkpoint is damaged") from None
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise CheckpointError(f"{folder}/model.safetensors does not fit this model: "
                              f"{first[1].strip() if len(first) > 1 else first[0]}") from None
    if missing or unexpected:
        raise CheckpointError(f"{folder}/model.safetensors is from another model: "
                              f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")


def _load_whole_state(model, state: dict, folder: Path) -> None:
    """``state`` (one name per tied tensor) into ``model``; the tensors' other names are
    filled by the tying itself."""
    seen, aliases = set(), set()
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            aliases.add(name)
        seen.add(id(parameter))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise CheckpointError(f"{folder}: the rank files do not fit this model: "
                              f"{first[1].strip() if len(first) > 1 else first[0]}") from None
    missing = [name for name in missing if name not in aliases]
    if missing or unexpected:
        raise CheckpointError(f"{folder}: the rank files are from another model: "
                              f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")


def load_trainer_state(folder: Path) -> dict:
    path = folder / "trainer_state.pt"
    if not path.exists():
        raise CheckpointError(f"{folder}: no trainer_state.pt; cannot resume (the model can "
                              f"still be evaluated)")
    try:
        state = torch.load(path, weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "it ends early"
        raise CheckpointError(f"{path}: not a readable trainer state ({reason}); expected the "
                              f"file torch.save wrote: the checkpoint is damaged (the model "
                              f"can still be evaluated)") from None
    if isinstance(state.get("optimizer"), dict) and state["optimizer"].get("sharded"):
        state["optimizer"] = shards.assemble_optimizer_state(folder, state["optimizer"])
    return state


def load_run(path: str | Path):
    """(config, tokenizer, model in eval mode) from a run or checkpoint folder."""
    folder = checkpoint_folder(path, sharded_ok=True)
    config = load_checkpoint_config(folder)
    tokenizer = TextTokenizer.load(folder / "tokenizer")
    model = build_model(config.model, tokenizer.vocab_size,
                        objectives=build_objectives(config.objectives, tokenizer))
    load_weights(model, folder)
    model.eval()
    return config, tokenizer, model


def consolidate(path: str | Path) -> Path:
    """Rewrite a sharded (FSDP rank files) checkpoint as the single-file one, by the same
    atomic swap as any save; returns the checkpoint folder."""
    folder = checkpoint_folder(path, sharded_ok=True)
    if not shards.is_sharded(folder):
        raise CheckpointError(f"{folder}: already a single-file checkpoint (model.safetensors)")
    state = load_trainer_state(folder)
    config, tokenizer, model = load_run(folder)
    return save_checkpoint(folder.parent, model, config, tokenizer, state)
