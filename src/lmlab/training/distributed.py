"""Data-parallel training under ``torchrun`` (PyTorch's own DDP and FSDP2).

``torchrun --nproc_per_node N -m lmlab train CONFIG ...`` starts N copies of the same
command; each joins the process group that torchrun's environment describes (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``...). ``data.batch_size`` stays the *global* batch: every
rank reads micro-batch ``i`` of the run and keeps its own rows of it
(:class:`lmlab.data.batching.Shard`), so the data order, the masks (seeded per example)
and the checkpoints do not depend on the number of processes, and a run saved by 2
processes resumes in 1 and the other way round.

``train.distributed: ddp`` (the default) wraps a module whose forward *is* the job's loss
in :class:`~torch.nn.parallel.DistributedDataParallel` (the objectives call the model's
parts directly, so the loss, not the model, is what DDP must see run). DDP averages the
gradients over ranks in buckets while backward runs, and skips that all-reduce on all but
the last micro-batch of an accumulated step (``no_sync``). The weights stay identical on
every rank, so rank 0's checkpoint is the run's.

``train.distributed: fsdp`` shards that module's parameters, gradients and AdamW state
over the ranks with FSDP2's ``fully_shard`` (Zhao et al. 2023; ZeRO-3, Rajbhandari et al.
2020): each rank keeps 1/N of them and gathers the whole weights only for the step.
Checkpoints are gathered to rank 0 in the single-process format (the whole state dict, the
optimizer state keyed as ``Optimizer.state_dict`` keys it), so one process loads them and a
run moves between DDP, FSDP and one process on resume; with ``train.checkpoint_sharded``
each rank writes its own shards instead (:mod:`lmlab.training.sharded_checkpoint`), read
back by concatenation whatever the reader's world size.

Only rank 0 logs, evaluates and writes; decisions that must agree (stop early, out of
time) are taken on rank 0 and broadcast.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from lmlab.errors import ConfigError
from lmlab.objectives.base import LossOutput

WORLD_ENVIRONMENT = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    collective_device: str = "cpu"  # where small collective tensors live (cuda for NCCL)
    strategy: str = "ddp"  # ddp | fsdp (train.distributed)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, on every rank (a no-op alone)."""
        if self.size == 1:
            return flag
        value = torch.tensor([int(flag)], device=self.collective_device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def mean(self, value: float) -> float:
        """The mean of ``value`` over ranks (what a logged loss should be)."""
        if self.size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.collective_device)
        dist.all_reduce(tensor)
        return tensor.item() / self.size

    def largest(self, value: float) -> float:
        """The largest ``value`` over ranks (a NaN anywhere gives NaN)."""
        if self.size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.collective_device)
        nan = torch.tensor([float(value != value)], dtype=torch.float64,
                           device=self.collective_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        dist.all_reduce(nan, op=dist.ReduceOp.MAX)
        return float("nan") if nan.item() else tensor.item()

    def gather(self, value) -> list:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        if self.size == 1:
            return [value]
        values = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def finish(self) -> None:
        """Wait for every rank (the group stays joined for the process's next run)."""
        if self.size > 1 and dist.is_initialized():
            dist.barrier()


def is_main_process() -> bool:
    """Rank 0 under torchrun, or a process started alone: the one that talks and writes."""
    return os.environ.get("RANK", "0") == "0"


def join_world(train_config, device: torch.device) -> World:
    """The :class:`World` of this process: alone unless started by ``torchrun`` with more
    than one process, in which case the process group is joined here (gloo on CPU, NCCL
    on CUDA)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(strategy="ddp")  # alone: nothing to shard (see ALONE_WITH_FSDP)
    if not all(name in os.environ for name in WORLD_ENVIRONMENT):
        raise ConfigError(f"WORLD_SIZE={size} is set but not RANK/LOCAL_RANK: start "
                          f"several processes with torchrun --nproc_per_node N -m lmlab ...")
    local_rank = int(os.environ["LOCAL_RANK"])
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=train_config.distributed_timeout_s))
    collective = f"cuda:{local_rank}" if dist.get_backend() == "nccl" else "cpu"
    return World(dist.get_rank(), dist.get_world_size(), local_rank, collective,
                 train_config.distributed)


def rank_device(device: torch.device, world: World) -> torch.device:
    """Each rank on its own GPU (``cuda`` means ``cuda:LOCAL_RANK`` under torchrun)."""
    if device.type == "cuda" and world.size > 1 and device.index is None:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


class _JobLoss(nn.Module):
    """The job's loss as a module's forward, so DDP sees the whole step run."""

    def __init__(self, job):
        super().__init__()
        self.model = job.model
        self._loss = job.loss

    def forward(self, batch: dict):
        output = self._loss(batch)
        return output.loss, output.metrics


ALONE_WITH_FSDP = ("train.distributed=fsdp in a single process: nothing to shard, so it "
                   "trains unsharded (start it with torchrun --nproc_per_node N to shard)")


class Replicas:
    """The loss as the loop computes it: the job's own when alone, through DDP or FSDP2
    when there are several processes; and the model's whole state for checkpoints."""

    def __init__(self, job, world: World, device: torch.device):
        self.job, self.world = job, world
        self.wrapped = None
        # Names a tied tensor has besides its first: the single-process file omits them.
        seen, self.aliases = set(), set()
        for name, parameter in job.model.named_parameters(remove_duplicate=False):
            if id(parameter) in seen:
                self.aliases.add(name)
            seen.add(id(parameter))
        if world.size == 1:
            return
        if world.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard
            self.wrapped = fully_shard(_JobLoss(job))
        else:
            ids = [device.index] if device.type == "cuda" else None
            # Some objectives leave parameters out of a step's loss (ELECTRA's unused MLM
            # head): DDP must look for them rather than wait for their gradients.
            self.wrapped = nn.parallel.DistributedDataParallel(
                _JobLoss(job), device_ids=ids, find_unused_parameters=True)

    @property
    def sharded(self) -> bool:
        return self.wrapped is not None and self.world.strategy == "fsdp"

    def loss(self, batch: dict) -> LossOutput:
        if self.wrapped is None:
            return self.job.loss(batch)
        return LossOutput(*self.wrapped(batch))

    def accumulating(self, last_micro_batch: bool):
        """No gradient all-reduce / reduce-scatter on all but the last micro-batch."""
        if self.sharded:
            self.wrapped.set_requires_gradient_sync(last_micro_batch)
        elif self.wrapped is not None and not last_micro_batch:
            return self.wrapped.no_sync()
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def whole_weights(self):
        """Under FSDP, every rank gathers the whole weights for the block (evaluation on
        rank 0 reads the model directly), then drops them again."""
        if not self.sharded:
            yield
            return
        self.wrapped.unshard()
        try:
            yield
        finally:
            self.wrapped.reshard()

    def largest_weight(self) -> float:
        """max |w| over the model (each rank's shard under FSDP, then over ranks); NaN if
        any weight is NaN."""
        with torch.no_grad():
            local = [_local(p).abs().max() for p in self.job.model.parameters()
                     if _local(p).numel()]
            largest = torch.stack(local).max().item() if local else 0.0
        return self.world.largest(largest) if self.sharded else largest

    def weights(self) -> dict | None:
        """Under FSDP, the whole state dict on rank 0 (every rank must call; the others get
        an empty one); None when the model holds its whole weights itself."""
        if not self.sharded:
            return None
        from torch.distributed.checkpoint.state_dict import get_model_state_dict
        state = get_model_state_dict(self.wrapped, options=_full_on_rank_0())
        state = {name.removeprefix("model."): value for name, value in state.items()}
        return {name: value.contiguous() for name, value in state.items()
                if name not in self.aliases}

    def local_weights(self) -> dict:
        """The model's state dict as this rank holds it (FSDP DTensor shards, buffers whole),
        one name per tied tensor: what this rank writes in a sharded save."""
        return {name: value for name, value in self.job.model.state_dict().items()
                if name not in self.aliases}

    def parameter_names(self) -> dict[int, str]:
        return {id(parameter): name for name, parameter in self.job.model.named_parameters()}

    def optimizer_state(self, optimizer) -> dict:
        """``optimizer.state_dict()`` in the single-process format (every rank must call;
        under FSDP the whole state lands on rank 0, keyed by position as there)."""
        if not self.sharded:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict
        by_name = get_optimizer_state_dict(self.wrapped, optimizer, options=_full_on_rank_0())
        if not by_name:
            return {}
        order = [name for group in by_name["param_groups"] for name in group["params"]]
        index = {name: number for number, name in enumerate(order)}
        groups = [{**group, "params": [index[name] for name in group["params"]]}
                  for group in by_name["param_groups"]]
        return {"state": {index[name]: value for name, value in by_name["state"].items()},
                "param_groups": groups}

    def load_optimizer_state(self, optimizer, state: dict) -> None:
        """Restore :meth:`optimizer_state` (every rank holds the whole saved state)."""
        if not self.sharded:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import (StateDictOptions,
                                                             set_optimizer_state_dict)
        names = {id(p): name for name, p in self.wrapped.named_parameters()}
        order = [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
        groups = [{**saved, "params": [order[number] for number in saved["params"]]}
                  for saved in state["param_groups"]]
        by_name = {"state": {order[number]: value for number, value in state["state"].items()},
                   "param_groups": groups}
        set_optimizer_state_dict(self.wrapped, optimizer, by_name,
                                 options=StateDictOptions(full_state_dict=True))


def _full_on_rank_0():
    from torch.distributed.checkpoint.state_dict import StateDictOptions
    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def _local(parameter: torch.Tensor) -> torch.Tensor:
    """A parameter's own shard (an FSDP DTensor's local tensor), or the parameter."""
    return parameter.to_local() if hasattr(parameter, "to_local") else parameter.detach()
