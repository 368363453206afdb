"""Where a run is: the learning-rate schedule, the step or wall-clock clock, threads, and the torchrun ranks."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from dataprep.training.config import TrainConfig


def lr_at(progress: float, config: TrainConfig) -> float:
    """Learning rate at `progress` (0..1 of the run): linear warm-up, then cosine down to 5 % of `lr`."""
    if progress < config.warmup:
        return config.lr * (progress / config.warmup)
    t = min(1.0, (progress - config.warmup) / max(1e-9, 1 - config.warmup))
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def free_cores() -> int:
    """Cores not busy right now: usable CPUs minus the 1-minute load average, at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(cpus, round(cpus - load)))


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` from torchrun's environment (``(0, 1)`` outside torchrun)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def from_rank0(value: float, world: int) -> float:
    """`value` as rank 0 has it (ranks must agree on the lr and on when to stop)."""
    if world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


@dataclass
class Clock:
    """Where the run is in its schedule: steps done over all steps, or wall time over the budget."""

    started: float
    total_steps: int
    config: TrainConfig
    world: int

    def progress(self, step: int) -> float:
        """0..1 (more once the budget is spent); ranks of a distributed run take rank 0's value."""
        value = step / self.total_steps
        if self.config.time_limit is not None:
            value = from_rank0(max(value, (time.perf_counter() - self.started) / self.config.time_limit), self.world)
        return value

    def out_of_time(self) -> bool:
        limit = self.config.time_limit
        return limit is not None and time.perf_counter() - self.started >= limit
