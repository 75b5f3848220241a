"""Small stand-in networks, losses and data sets for the trainer tests, distributed ones too.

The trainer is tested with injected factories so that it does not depend on ``search_spaces``;
integration with the real spaces is tested elsewhere. (A module of its own, not ``conftest``:
every test folder has a ``conftest``, so ``from conftest import`` may find another folder's.)
The factories are module-level: a distributed trial pickles them by reference into its ranks,
which import this module (they inherit the test process's ``sys.path``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from trainer import DataSplits


def make_mlp(spec: Any = None, in_features: int = 10, num_classes: int = 3) -> nn.Module:
    """A model factory: ``spec`` may set the hidden width."""
    hidden = getattr(spec, "hidden", 32)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def mlp(spec: Any = None) -> nn.Module:
    """For 1x8x8 images: 64 -> 32 -> 3 with biases."""
    return nn.Sequential(nn.Flatten(1), *make_mlp(spec, in_features=64))


def bias_free_mlp(spec: Any = None) -> nn.Module:
    """Two weight matrices (64x128 and 128x10 as DDP sees them), nothing else: PowerSGD
    compresses every byte, so its ratio is exactly sum((n+m)r) / sum(nm)."""
    return nn.Sequential(
        nn.Flatten(1), nn.Linear(64, 128, bias=False), nn.ReLU(), nn.Linear(128, 3, bias=False)
    )


def cross_entropy(spec: Any, class_counts: Sequence[int] | None) -> nn.Module:
    return nn.CrossEntropyLoss()


class ResidualStack(nn.Module):
    """A deep stack of small conv residual blocks with SearchNet's ``checkpointing`` switch
    (no BatchNorm, so that rank count does not change the maths)."""

    def __init__(
        self,
        depth: int = 64,
        channels: int = 4,
        num_classes: int = 3,
        activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=1) for _ in range(depth)
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
        )
        self.checkpointing = "none"

    def _run(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        for conv in self.blocks[start:stop]:
            x = x + self.activation(conv(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        n = len(self.blocks)
        if self.checkpointing == "none" or not torch.is_grad_enabled():
            return self.head(self._run(x, 0, n))
        size = 1 if self.checkpointing == "blocks" else max(1, round(math.sqrt(n)))
        for start in range(0, n, size):
            x = checkpoint(self._run, x, start, min(start + size, n), use_reentrant=False)
        return self.head(x)


def residual_stack(spec: Any = None) -> nn.Module:
    """The distributed tests' factory: 9 blocks, tanh."""
    return ResidualStack(depth=9, activation=torch.tanh)


def make_splits(
    n: int = 600, features: int = 10, classes: int = 3, seed: int = 0, image: bool = False
) -> DataSplits:
    """Linearly separable labels (argmax of a random linear map), split 60/20/20."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1).astype(np.int64)
    if image:
        side = math.isqrt(features)
        x = x[:, : side * side].reshape(n, 1, side, side)
    a, b = int(n * 0.6), int(n * 0.8)
    return DataSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], classes)


def image_splits(n: int = 400, seed: int = 0) -> DataSplits:
    """1x8x8 images with labels from a random linear map, split 60/20/20."""
    return make_splits(n=n, features=64, seed=seed, image=True)
