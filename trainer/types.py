"""Plain data types shared by the trainer and its callers.

The trainer knows nothing of Optuna or the database: it takes specs, arrays and a
:class:`TrainConfig`, reports each epoch through a callback, and returns a :class:`TrainResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test arrays, already preprocessed (standardized).

    ``x_*`` are float32 with one of the shapes ``(N, D)``, ``(N, C, L)`` or ``(N, C, H, W)``;
    ``y_*`` are int64 class indices in ``[0, num_classes)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(64,)`` or ``(1, 8, 8)``."""
        return tuple(int(s) for s in self.x_train.shape[1:])

    def class_counts(self) -> list[int]:
        return np.bincount(self.y_train, minlength=self.num_classes).tolist()


@dataclass(frozen=True)
class TrainConfig:
    """How to train one candidate. Searched hyperparameters are merged in by the caller."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # adamw | sgd
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    # Intra-op threads; None: torch's default (1 per rank when nproc > 1).
    num_threads: int | None = None
    eval_batch_size: int = 512
    augment: str = "none"  # none | shift (random +-1 pixel translations of image batches)
    latency_repeats: int = 30
    # -- distributed / memory / communication (see trainer/README.md, trainer/distributed/) --
    nproc: int = 1
    backend: str = "auto"  # auto | gloo | nccl
    checkpointing: str = "none"  # none | blocks | sqrt
    precision: str = "fp32"  # fp32 | bf16 | fp16
    grad_accum: int = 1
    zero: bool = False
    bucket_cap_mb: float = 25.0
    gradient_as_bucket_view: bool = False
    comm_hook: str = "none"  # none | fp16 | bf16 | powersgd
    powersgd_rank: int = 1
    powersgd_start_iter: int = 10
    timeout: float = 60.0  # seconds before a stuck collective / dead rank tears the trial down
    trial_timeout: float | None = None  # wall-clock limit for one trial's training


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    val_accuracy: float
    seconds: float
    val_loss: float | None = None  # mean cross-entropy on the validation split


def best_val_loss(history: list[EpochRecord], best_epoch: int) -> float | None:
    """The validation loss of the kept epoch (None when it was not measured)."""
    return next((r.val_loss for r in history if r.epoch == best_epoch), None)


# Called after every epoch; return True to stop training (the caller prunes the trial).
EpochCallback = Callable[[EpochRecord], bool]


@dataclass(frozen=True)
class Costs:
    """Cost of a network. ``latency_ms`` is None when only static costs were computed."""

    params: int
    flops: int
    latency_ms: float | None = None


@dataclass
class TrainResult:
    val_accuracy: float  # best validation accuracy over epochs (weights of that epoch are kept)
    test_accuracy: float  # accuracy of the kept weights on the test split (never used to select)
    history: list[EpochRecord]
    train_seconds: float
    best_epoch: int
    stopped_early: bool  # the callback asked to stop
    state_dict: dict[str, Any] = field(repr=False)  # CPU tensors of the kept weights
    peak_memory_mb: float | None = None
    comm_bytes_per_step: float | None = None
    costs: Costs | None = None
    val_loss: float | None = None  # validation cross-entropy at the kept (best) epoch
