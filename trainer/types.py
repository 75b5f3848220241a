"""Plain data types shared by the trainer and its callers.

The trainer knows nothing of Optuna or the database: it takes specs, arrays and a
:class:`TrainConfig`, reports each epoch through a callback, and returns a :class:`TrainResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainer.metrics import METRICS
from trainer.settings import COUNT_MAX, SECONDS_MAX, Ref, setting


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


# The trainer's own choices. Optimizers, augmentations and checkpointing modes are declared
# beside the code that implements them and read from there on first check (see Ref).
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "gloo", "nccl")
COMM_HOOKS = ("none", "fp16", "bf16", "powersgd")
OPTIMIZERS = Ref("search_spaces.hparams", "OPTIMIZERS")
AUGMENTATIONS = Ref("trainer.augment", "AUGMENTATIONS")
CHECKPOINTING = Ref("search_spaces.arch.checkpoint", "MODES")


@dataclass(frozen=True)
class TrainConfig:
    """How to train one candidate. Searched hyperparameters are merged in by the caller.

    Every field is declared once with its allowed values and range: the study file's
    ``[trainer]`` table, ``--set trainer.KEY=...`` and :func:`trainer.optim.validate_config`
    all check against these declarations.
    """

    epochs: int = setting(20, lo=1, hi=COUNT_MAX, help="epochs per candidate (see adapt_epochs)")
    batch_size: int = setting(64, lo=1, hi=COUNT_MAX, help="training batch size (a searched "
                              "batch size replaces it)")
    lr: float = setting(1e-3, lo=0, help="learning rate (searched by the default hparam space)")
    weight_decay: float = setting(0.0, lo=0, help="weight decay (decoupled for adamw)")
    optimizer: str = setting("adamw", choices=OPTIMIZERS, help="sgd: Nesterov momentum 0.9")
    # No upper bound but int64: a search seeds trial n with study.seed + n (and its folds above).
    seed: int = setting(0, lo=0, help="seed of weights and batch order")
    device: str = setting("auto", choices=DEVICES, help="auto: CUDA when available")
    num_threads: int | None = setting(
        None, lo=1, hi=1024, help="intra-op threads; none: torch's default (1 per rank when "
        "nproc > 1)")
    eval_batch_size: int = setting(512, lo=1, hi=COUNT_MAX, help="batch size of evaluation")
    augment: str = setting("none", choices=AUGMENTATIONS,
                           help="shift: random +-1 pixel translations of image batches")
    latency_repeats: int = setting(30, lo=0, hi=100_000, help="timed forward passes per "
                                   "latency measurement (a search needs >= 1; 0: skip it)")
    # -- distributed / memory / communication (see trainer/README.md, trainer/distributed/) --
    nproc: int = setting(1, lo=1, hi=1024, help="processes (GPUs) per trial")
    backend: str = setting("auto", choices=BACKENDS, help="auto: nccl on CUDA, else gloo")
    checkpointing: str = setting("none", choices=CHECKPOINTING, help="activation "
                                 "recomputation: every block, or sqrt(n) segments")
    precision: str = setting("fp32", choices=PRECISIONS, help="autocast dtype; fp16 needs CUDA")
    grad_accum: int = setting(1, lo=1, hi=COUNT_MAX, help="micro-batches per optimizer step")
    zero: bool = setting(False, help="shard optimizer state across ranks (ZeRO-1)")
    bucket_cap_mb: float = setting(25.0, lo=0, hi=1e6, help="DDP gradient bucket size; 0: a "
                                   "bucket per gradient")
    gradient_as_bucket_view: bool = setting(False, help="DDP: gradients as views of buckets")
    comm_hook: str = setting("none", choices=COMM_HOOKS, help="DDP gradient compression")
    powersgd_rank: int = setting(1, lo=1, hi=COUNT_MAX, help="PowerSGD matrix rank")
    powersgd_start_iter: int = setting(10, lo=1, hi=COUNT_MAX, help="plain steps before PowerSGD")
    timeout: float = setting(60.0, lo=1, hi=SECONDS_MAX, help="seconds before a stuck "
                             "collective / dead rank tears the trial down")
    trial_timeout: float | None = setting(
        None, lo=0, hi=SECONDS_MAX, lo_open=True,
        help="wall-clock seconds for one trial's training; none: no limit")
    metric: str = setting("accuracy", choices=METRICS, help="the validation and test figure "
                          "(a search sets it from study.metric)")


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    val_accuracy: float  # the validation figure in TrainConfig.metric (accuracy by default)
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
    # Both in TrainConfig.metric (accuracy by default; balanced accuracy or macro F1 if asked):
    val_accuracy: float  # the kept weights' validation figure: the best epoch's (keep="last":
    # the last epoch's; keep="start": the start's)
    test_accuracy: float  # the kept weights' on the test split (never used to select)
    history: list[EpochRecord]
    train_seconds: float
    best_epoch: int
    stopped_early: bool  # the callback asked to stop
    state_dict: dict[str, Any] = field(repr=False)  # CPU tensors of the kept weights
    peak_memory_mb: float | None = None
    comm_bytes_per_step: float | None = None
    costs: Costs | None = None
    val_loss: float | None = None  # validation cross-entropy at the kept (best) epoch
    test_per_class: list[float | None] | None = None  # per class test accuracy (None: absent)
    # A fitted start's own held-out figure, in the same metric: rocket's ridge head scored by
    # leave-one-out over the training samples it was fitted on (closed form, no extra fit)
    loo_accuracy: float | None = None
    loo_samples: int | None = None
