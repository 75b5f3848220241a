"""Pure set-up decisions of a run: config checks, device, precision, optimizer, lr schedule."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from trainer.settings import check
from trainer.types import (  # noqa: F401 - the choices' old home; kept for importers
    BACKENDS,
    COMM_HOOKS,
    DEVICES,
    PRECISIONS,
    DataSplits,
    TrainConfig,
)


def validate_config(cfg: TrainConfig) -> None:
    """Raise ``ValueError`` (a :class:`~trainer.settings.SettingError`) naming the first field
    whose type, choice or range breaks its declaration in :class:`TrainConfig`, before anything
    is built: the same check and message a study file's ``[trainer]`` table gets."""
    check(cfg, "trainer")


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for absent CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision='fp16' needs CUDA (float16 autocast with a GradScaler); the device is "
            f"{device.type}: use precision='bf16' or 'fp32' there"
        )


def check_trial(cfg: TrainConfig, data: DataSplits) -> torch.device:
    """What every trial checks before it starts, on one process or many: the config, the device
    it asks for (returned), the precision on that device, and non-empty train/val splits."""
    validate_config(cfg)
    device = resolve_device(cfg.device)
    check_precision(cfg.precision, device)
    if len(data.y_train) == 0 or len(data.y_val) == 0:
        raise ValueError("the train and validation splits must not be empty")
    return device


def autocast_factory(
    precision: str, device: torch.device
) -> Callable[[], AbstractContextManager[object]]:
    """A zero-argument factory of fresh autocast contexts (a context is entered only once)."""
    if precision == "fp32":
        return nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return functools.partial(torch.autocast, device_type=device.type, dtype=dtype)


def make_grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices): same spec + seed, same initial weights."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def optimizer_recipe(cfg: TrainConfig) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The optimizer class and its arguments; ZeRO builds its per-rank shard from the same."""
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW, {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    return torch.optim.SGD, {
        "lr": cfg.lr, "momentum": 0.9, "nesterov": True, "weight_decay": cfg.weight_decay
    }


def build_optimizer(cfg: TrainConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """AdamW, or SGD with Nesterov momentum 0.9; ``cfg.weight_decay`` is decoupled for AdamW."""
    cls, kwargs = optimizer_recipe(cfg)
    return cls(params, **kwargs)


def cosine_factor(step: int, total_steps: int) -> float:
    """Learning-rate multiplier after ``step`` optimizer steps: 1 at 0, falling to 0 at the end.

    Step ``s`` (0-based) trains with ``lr * (1 + cos(pi * s / total_steps)) / 2``: the first step
    uses the full rate and the last one a small positive rate. No warm-up. The schedule spans
    ``cfg.epochs`` even if the callback stops the run earlier.
    """
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine annealing over all ``total_steps`` optimizer steps; call ``step()`` after each."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, functools.partial(cosine_factor, total_steps=total_steps)
    )
