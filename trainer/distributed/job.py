"""What travels between the caller's process and the ranks of a trial (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainer.core import TrainRequest
from trainer.types import TrainResult


@dataclass(frozen=True)
class InitArgs:
    """What a rank needs before it can join the process group (and so receive the job)."""

    backend: str  # gloo | nccl
    timeout: float  # seconds, for every collective of the trial
    num_threads: int  # intra-op threads per rank on CPU
    device: str = "cpu"  # cpu | cuda: each rank binds cuda:<local rank> before joining


@dataclass(frozen=True)
class Job:
    """One trial as rank 0 broadcasts it to all ranks: the request and the data's class counts
    (the ranks of other machines receive the data itself later, from rank 0)."""

    request: TrainRequest
    class_counts: list[int]


@dataclass
class RankOutput:
    """What one rank returns: its result (without costs; the kept weights travel from rank 0
    as ``state_blob``, torch.save bytes, when the rank ran in a spawned process) and ``stats``
    (hook calls, bytes per step, micro-batches, optimizer state bytes, local peak memory)."""

    rank: int
    result: TrainResult
    stats: dict[str, Any] = field(default_factory=dict)
    state_blob: bytes | None = None
