"""How much memory one training process can still take, on the CPU or a CUDA device.

What a candidate is checked against before it trains (:mod:`trainer.memory_estimate` says what
it needs). Read from the system at the moment of asking, so memory other trials or programs
hold is already taken out.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

# cgroup v1 reports "no limit" as a huge number (2**63 rounded down to a page).
_NO_LIMIT = 2**60


def available_memory(device: str | torch.device, nproc: int = 1) -> int | None:
    """Bytes one of a trial's ``nproc`` processes can still allocate on ``device``; None when
    it cannot be read.

    * **CUDA**: the device's free memory plus what this process's caching allocator holds
      unused (an earlier trial's blocks, free to the next one), for a trial that trains in this
      process (``nproc`` 1). A trial of several processes trains on devices of their own, which
      this process could only ask about by opening a CUDA context of its own there: None.
    * **CPU**: ``MemAvailable`` of ``/proc/meminfo`` (what can be allocated without swapping),
      or a container's cgroup limit less its usage when that is lower, shared by the ``nproc``
      processes of the trial.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        if nproc > 1 or not torch.cuda.is_available():
            return None
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))
    if dev.type != "cpu":
        return None
    found = [v for v in (_system_available(), _cgroup_available()) if v is not None]
    return min(found) // max(1, nproc) if found else None


def _system_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # elsewhere: free pages (less than Linux's MemAvailable, which counts reclaimable cache)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    """Limit less usage of this process's memory cgroup (v2, else v1); inactive file pages
    count as free, since the kernel reclaims them before it kills anything."""
    for limit, usage, stat, inactive in (
        ("memory.max", "memory.current", "memory.stat", "inactive_file"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat",
         "total_inactive_file"),
    ):
        root = Path("/sys/fs/cgroup")
        try:
            text = (root / limit).read_text().strip()
            if text == "max" or int(text) >= _NO_LIMIT:
                return None
            used = int((root / usage).read_text())
            reclaimable = _stat(root / stat, inactive)
        except (OSError, ValueError):
            continue
        return max(0, int(text) - used + reclaimable)
    return None


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0
