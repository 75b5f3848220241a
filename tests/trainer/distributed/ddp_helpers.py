"""Module-level models, losses and data for the distributed tests.

Everything a rank needs is pickled by reference into spawned processes, so it must live at module
level in an importable module (the spawned ranks inherit the test process's ``sys.path``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from trainer import DataSplits, TrainConfig

HERE = Path(__file__).resolve().parent

# Short collective timeout: a broken test fails in seconds, not minutes.
BASE = TrainConfig(
    epochs=2, batch_size=32, lr=0.05, optimizer="sgd", latency_repeats=0, nproc=2, timeout=20.0,
    device="cpu",
)


def cross_entropy(spec: Any, class_counts: Sequence[int] | None) -> nn.Module:
    return nn.CrossEntropyLoss()


def mlp(spec: Any = None) -> nn.Module:
    """64 -> 32 -> 3 with biases."""
    return nn.Sequential(nn.Flatten(1), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))


def bias_free_mlp(spec: Any = None) -> nn.Module:
    """Two weight matrices (64x128 and 128x10 as DDP sees them), nothing else: PowerSGD
    compresses every byte, so its ratio is exactly sum((n+m)r) / sum(nm)."""
    return nn.Sequential(
        nn.Flatten(1), nn.Linear(64, 128, bias=False), nn.ReLU(), nn.Linear(128, 3, bias=False)
    )


class ResidualStack(nn.Module):
    """Conv residual blocks with SearchNet's ``checkpointing`` switch (no BatchNorm, so that
    rank count does not change the maths)."""

    def __init__(self, depth: int = 9, channels: int = 4, num_classes: int = 3) -> None:
        super().__init__()
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
            x = x + torch.tanh(conv(x))
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
    return ResidualStack()


def image_splits(n: int = 400, seed: int = 0) -> DataSplits:
    """1x8x8 images with labels from a random linear map, split 60/20/20."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 64)).astype(np.float32)
    y = (x @ rng.normal(size=(64, 3))).argmax(axis=1).astype(np.int64)
    x = x.reshape(n, 1, 8, 8)
    a, b = int(n * 0.6), int(n * 0.8)
    return DataSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 3)


class RankFails(Exception):
    """What a failing rank raises in the failure tests."""


def failing_on_rank_1(spec: Any = None) -> nn.Module:
    """A model whose forward raises on rank 1 at the 3rd training step."""
    return _FailOnRank1()


class _FailOnRank1(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == 3 and os.environ.get("RANK") == "1":
                raise RankFails("rank one gave up at step 3")
        return self.net(x)


def killed_on_rank_1(spec: Any = None) -> nn.Module:
    """A model whose forward kills its own process (no exception, no message) on rank 1."""
    return _KillRank1()


class _KillRank1(_FailOnRank1):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and os.environ.get("RANK") == "1":
            os.kill(os.getpid(), 9)
        return self.net(x)


class NanOnRank1(nn.Module):
    """Cross-entropy that turns NaN on rank 1 (a diverging rank)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(logits, target)
        return loss * float("nan") if os.environ.get("RANK") == "1" else loss


def nan_on_rank_1(spec: Any, class_counts: Sequence[int] | None) -> nn.Module:
    return NanOnRank1()


def stray_ranks() -> list[int]:
    """PIDs of processes below this one that are not its long-lived helpers.

    multiprocessing keeps two helpers as direct children for the life of the process: the
    resource tracker and the forkserver the ranks fork from. Anything else below us -- a rank,
    an agent, a child of the forkserver -- is an orphan-to-be.
    """
    me = os.getpid()
    parent_of: dict[int, int] = {}
    cmdline: dict[int, bytes] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        pid = int(name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has exited; only its exit status is left
            parent_of[pid] = int(fields[1])
    helpers = {
        pid for pid, ppid in parent_of.items()
        if ppid == me and (b"forkserver" in cmdline[pid] or b"resource_tracker" in cmdline[pid])
    }  # fmt: skip

    def below_me(pid: int) -> bool:
        while pid in parent_of and pid != me:
            pid = parent_of[pid]
        return pid == me

    return [p for p in parent_of if p != me and p not in helpers and below_me(p)]
