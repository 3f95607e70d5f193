"""Data-parallel training under ``torchrun`` (PyTorch's own DDP).

``torchrun --nproc_per_node N -m lmlab train CONFIG ...`` starts N copies of the same
command; each joins the process group that torchrun's environment describes (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``...). ``data.batch_size`` stays the *global* batch: every
rank reads micro-batch ``i`` of the run and keeps its own rows of it
(:class:`lmlab.data.batching.Shard`), so the data order, the masks (seeded per example)
and the checkpoints do not depend on the number of processes, and a run saved by 2
processes resumes in 1 and the other way round.

The model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` through a
module whose forward *is* the job's loss (the objectives call the model's parts directly,
so the loss, not the model, is what DDP must see run). DDP averages the gradients over
ranks in buckets while backward runs, and skips that all-reduce on all but the last
micro-batch of an accumulated step (``no_sync``). The weights stay identical on every
rank, so rank 0's checkpoint is the run's.

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


def join_world(train_config, device: torch.device) -> World:
    """The :class:`World` of this process: alone unless started by ``torchrun`` with more
    than one process, in which case the process group is joined here (gloo on CPU, NCCL
    on CUDA)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not all(name in os.environ for name in WORLD_ENVIRONMENT):
        raise ConfigError(f"WORLD_SIZE={size} is set but not RANK/LOCAL_RANK: start "
                          f"several processes with torchrun --nproc_per_node N -m lmlab ...")
    local_rank = int(os.environ["LOCAL_RANK"])
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=train_config.distributed_timeout_s))
    collective = f"cuda:{local_rank}" if dist.get_backend() == "nccl" else "cpu"
    return World(dist.get_rank(), dist.get_world_size(), local_rank, collective)


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


class Replicas:
    """The loss as the loop computes it: the job's own when alone, through DDP when there
    are several processes."""

    def __init__(self, job, world: World, device: torch.device):
        self.job, self.world = job, world
        self.wrapped = None
        if world.size > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(_JobLoss(job), device_ids=ids)

    def loss(self, batch: dict) -> LossOutput:
        if self.wrapped is None:
            return self.job.loss(batch)
        return LossOutput(*self.wrapped(batch))

    def accumulating(self, last_micro_batch: bool):
        """DDP's ``no_sync`` on all but the last micro-batch of a step."""
        if self.wrapped is not None and not last_micro_batch:
            return self.wrapped.no_sync()
        return contextlib.nullcontext()
