"""What travels between the caller's process and the ranks of a trial (all picklable)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import torch

from trainer.factories import LossFactory, ModelFactory
from trainer.types import EpochRecord, TrainConfig


@dataclass(frozen=True)
class InitArgs:
    """What a rank needs before it can join the process group (and so receive the job)."""

    backend: str  # gloo | nccl
    timeout: float  # seconds, for every collective of the trial
    num_threads: int  # intra-op threads per rank on CPU
    device: str = "cpu"  # cpu | cuda: each rank binds cuda:<local rank> before joining


@dataclass(frozen=True)
class Job:
    """One trial: the candidate and how to train it. Rank 0 broadcasts its copy to all ranks."""

    arch_spec: Any
    loss_spec: Any
    cfg: TrainConfig
    class_counts: list[int]
    input_shape: tuple[int, ...]
    model_factory: ModelFactory | None = None  # None: search_spaces.build_model
    loss_factory: LossFactory | None = None  # None: search_spaces.build_loss


def check_picklable(job: Job) -> None:
    """Fail in the caller, with the reason, rather than in every spawned rank."""
    for name in ("model_factory", "loss_factory", "arch_spec", "loss_spec"):
        value = getattr(job, name)
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise TypeError(
                f"{name} must be picklable when a trial runs on several processes (a "
                f"module-level function, not a lambda or closure); got {value!r}: {exc}"
            ) from None


@dataclass
class RankOutput:
    """What one rank returns. ``state_dict`` and the metrics are filled on rank 0 only."""

    rank: int
    stats: dict[str, Any] = field(default_factory=dict)
    state_dict: dict[str, torch.Tensor] | None = None
    state_blob: bytes | None = None  # state_dict as torch.save bytes, between processes
    history: list[EpochRecord] = field(default_factory=list)
    val_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    comm_bytes_per_step: float | None = None
