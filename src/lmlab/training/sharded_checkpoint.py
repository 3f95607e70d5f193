"""Sharded checkpoints under FSDP (``train.checkpoint_sharded: true``; issue 17).

A checkpoint gathered to rank 0 holds the whole model and optimizer in one process's
memory while it is written, which is what FSDP exists to avoid. With this option each rank
writes only what it holds, into the same temporary checkpoint folder:

* ``model-RRRRR-of-NNNNN.safetensors``: rank R's rows of every parameter (FSDP2 shards each
  parameter along dim 0 in ``torch.chunk`` order: ``Shard(0)`` on a 1-D mesh), and, on
  rank 0 only, the tensors every rank holds whole (buffers);
* ``optimizer-RRRRR-of-NNNNN.safetensors``: rank R's rows of each AdamW moment, keyed
  ``<parameter>::<state key>`` (scalars such as ``step`` on rank 0 only).

Each file's safetensors metadata says, per tensor, whether it is a shard and the whole
tensor's shape. Rank 0 then writes ``config.yaml``, the tokenizer and ``trainer_state.pt``
(whose ``optimizer`` entry keeps only the parameter groups and the parameters' names) and,
last, the manifest over all files, and renames the folder in (the same atomic swap as a
whole checkpoint: ranks share one file system, which ``torchrun`` on one machine and the
usual multi-node set-ups with a shared disk provide).

Reading never needs the writers' world size: :func:`assemble_weights` and
:func:`assemble_optimizer_state` concatenate the rank files in rank order back into the
single-process state dicts, so one process (``lmlab consolidate``, evaluation, a resume
alone) or any number of FSDP ranks (each keeps its own rows of the whole state, as with a
gathered checkpoint) loads it. Reading assembles whole tensors in each reading process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from lmlab.errors import CheckpointError

LAYOUT_KEY = "lmlab_shards"  # safetensors metadata: {name: {"sharded": bool, "shape": [...]}}
SEPARATOR = "::"             # optimizer tensors: "<parameter name>::<state key>"
RANK_FILE = re.compile(r"(model|optimizer)-(\d{5})-of-(\d{5})\.safetensors")


def rank_file(kind: str, rank: int, size: int) -> str:
    return f"{kind}-{rank:05d}-of-{size:05d}.safetensors"


def is_sharded(folder: Path) -> bool:
    return any(RANK_FILE.fullmatch(path.name) for path in Path(folder).glob("model-*.safetensors"))


def local_part(tensor: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(this rank's rows, whether the tensor is sharded): an FSDP DTensor's local shard, or
    the tensor itself (held whole by every rank)."""
    if hasattr(tensor, "to_local"):
        return tensor.to_local().detach().cpu().contiguous(), True
    return tensor.detach().cpu().contiguous(), False


def write_rank_file(path: Path, tensors: dict[str, torch.Tensor], rank: int) -> None:
    """Write this rank's parts of ``tensors`` (whole shapes from DTensors' ``.shape``);
    tensors every rank holds whole are written by rank 0 only."""
    parts, layout = {}, {}
    for name, tensor in tensors.items():
        part, sharded = local_part(tensor)
        if sharded or rank == 0:
            parts[name] = part
            layout[name] = {"sharded": sharded, "shape": list(tensor.shape)}
    save_file(parts, str(path), metadata={"format": "pt", LAYOUT_KEY: json.dumps(layout)})


def _rank_files(folder: Path, kind: str) -> list[Path]:
    """The ``kind`` files of ``folder`` in rank order; all N of them or a one-line error."""
    found = sorted(path for path in folder.glob(f"{kind}-*-of-*.safetensors")
                   if RANK_FILE.fullmatch(path.name))
    if not found:
        raise CheckpointError(f"{folder}: no {rank_file(kind, 0, 1).replace('00001', 'NNNNN')} "
                              f"files; expected a sharded checkpoint's rank files")
    size = int(RANK_FILE.fullmatch(found[0].name).group(3))
    expected = [folder / rank_file(kind, rank, size) for rank in range(size)]
    missing = [path for path in expected if not path.is_file()]
    if missing or len(found) != size:
        raise CheckpointError(f"{missing[0] if missing else found[-1]}: the sharded checkpoint "
                              f"of {size} ranks needs exactly {rank_file(kind, 0, size)} .. "
                              f"{rank_file(kind, size - 1, size)}")
    return expected


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as file:
            layout = json.loads((file.metadata() or {}).get(LAYOUT_KEY, "null"))
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except (SafetensorError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not a complete rank file ({str(error).splitlines()[0]}); "
                              f"the checkpoint is damaged") from None
    if not isinstance(layout, dict):
        raise CheckpointError(f"{path}: no {LAYOUT_KEY!r} metadata; expected a rank file "
                              f"lmlab wrote")
    return tensors, layout


def assemble(folder: Path, kind: str) -> dict[str, torch.Tensor]:
    """The whole tensors of ``folder``'s ``kind`` rank files: shards concatenated along
    dim 0 in rank order, whole tensors from rank 0; each checked against its saved shape."""
    files = [_read(path) for path in _rank_files(Path(folder), kind)]
    first_tensors, first_layout = files[0]
    whole = {}
    for name, entry in first_layout.items():
        if entry["sharded"]:
            parts = []
            for (tensors, layout), path in zip(files, _rank_files(Path(folder), kind)):
                if name not in tensors:
                    raise CheckpointError(f"{path}: has no shard of {name!r}; every rank file "
                                          f"holds one of each sharded tensor")
                parts.append(tensors[name])
            tensor = torch.cat(parts, dim=0)
        else:
            tensor = first_tensors[name]
        if list(tensor.shape) != entry["shape"]:
            raise CheckpointError(f"{folder}: the shards of {name!r} make shape "
                                  f"{list(tensor.shape)}, the rank files say {entry['shape']}")
        whole[name] = tensor
    return whole


def assemble_weights(folder: Path) -> dict[str, torch.Tensor]:
    return assemble(folder, "model")


def optimizer_tensors(optimizer, names: dict[int, str]) -> tuple[dict, dict]:
    """(``{"<name>::<key>": tensor}`` of every parameter's optimizer state, the parameter
    groups with parameter *names* in place of positions) for :func:`write_rank_file`."""
    tensors, groups = {}, []
    for group in optimizer.param_groups:
        groups.append({**{key: value for key, value in group.items() if key != "params"},
                       "params": [names[id(parameter)] for parameter in group["params"]]})
        for parameter in group["params"]:
            for key, value in optimizer.state.get(parameter, {}).items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{names[id(parameter)]}{SEPARATOR}{key}"] = value
    return tensors, {"sharded": True, "param_groups": groups}


def assemble_optimizer_state(folder: Path, saved: dict) -> dict:
    """``Optimizer.state_dict()``'s single-process format (state keyed by position over the
    groups' parameters) from the rank files and the groups kept in ``trainer_state.pt``."""
    tensors = assemble(folder, "optimizer")
    order = [name for group in saved["param_groups"] for name in group["params"]]
    index = {name: number for number, name in enumerate(order)}
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        name, _, entry = key.rpartition(SEPARATOR)
        if name not in index:
            raise CheckpointError(f"{folder}: optimizer state for {name!r}, which no parameter "
                                  f"group of trainer_state.pt names")
        state.setdefault(index[name], {})[entry] = value
    groups = [{**group, "params": [index[name] for name in group["params"]]}
              for group in saved["param_groups"]]
    return {"state": state, "param_groups": groups}
