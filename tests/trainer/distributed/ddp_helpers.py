"""What only the distributed tests need: their base config, models and losses that fail on
one rank, and the orphan check. The stand-in models and data are ``trainer_helpers``'s.

Everything a rank needs is pickled by reference into spawned processes, so it must live at module
level in an importable module (the spawned ranks inherit the test process's ``sys.path``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from trainer_helpers import mlp

from trainer import TrainConfig

HERE = Path(__file__).resolve().parent

# Short collective timeout: a broken test fails in seconds, not minutes.
BASE = TrainConfig(
    epochs=2, batch_size=32, lr=0.05, optimizer="sgd", latency_repeats=0, nproc=2, timeout=20.0,
    device="cpu",
)


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
    resource tracker and the forkserver the ranks fork from; ``cli_kit`` keeps a third, the
    pre-imported parent of its ``automl`` processes (``cli_zygote.py``). Anything else below
    us -- a rank, an agent, a child of a helper -- is an orphan-to-be.
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
        if ppid == me and any(h in cmdline[pid] for h in (b"forkserver", b"resource_tracker",
                                                          b"cli_zygote"))
    }  # fmt: skip

    def below_me(pid: int) -> bool:
        while pid in parent_of and pid != me:
            pid = parent_of[pid]
        return pid == me

    return [p for p in parent_of if p != me and p not in helpers and below_me(p)]
