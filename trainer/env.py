"""The torchrun contract (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``), read once per process."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a (possibly one-process) job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main rank reports, prints and saves."""
        return self.rank == 0


@functools.cache
def dist_env() -> DistEnv:
    """Read the launcher's environment once; later changes to ``os.environ`` are ignored."""
    env = os.environ
    return DistEnv(
        rank=int(env.get("RANK", 0)),
        local_rank=int(env.get("LOCAL_RANK", 0)),
        world_size=int(env.get("WORLD_SIZE", 1)),
    )
