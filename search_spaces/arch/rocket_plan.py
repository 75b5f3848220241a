"""MiniRocket's fixed parts: its 84 kernels, the channels each sums over, and the dilations
and features per dilation for a series length and a transform size (``arch/rocket.py``)."""

from __future__ import annotations

import itertools
import math
import random

import torch

from search_spaces.arch.specs import ROCKET_KERNELS

KERNEL_LENGTH = 9
MAX_DILATIONS = 32  # per kernel, as in MiniRocket


def rocket_plan(length: int, n_features: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(dilations, features per kernel at each)`` for series of ``length`` and about
    ``n_features`` features, as MiniRocket spaces them: up to 32 dilations, exponentially from 1
    to ``(length - 1) / 8`` (the kernel then spans the series), repeats merged."""
    per_kernel = max(1, n_features // ROCKET_KERNELS)
    n = min(per_kernel, MAX_DILATIONS)
    top = math.log2(max(1.0, (length - 1) / (KERNEL_LENGTH - 1)))
    raw = [int(2 ** (top * i / (n - 1)) + 1e-9) if n > 1 else 1 for i in range(n)]
    dilations = sorted(set(raw))
    counts = [raw.count(d) * (per_kernel // n) for d in dilations]
    for i in range(per_kernel % n):
        counts[i % len(counts)] += 1
    return tuple(dilations), tuple(counts)


def kernels() -> torch.Tensor:
    """The 84 kernels: weight 2 at three of the nine taps, -1 elsewhere (each sums to zero)."""
    w = torch.full((ROCKET_KERNELS, KERNEL_LENGTH), -1.0)
    for i, taps in enumerate(itertools.combinations(range(KERNEL_LENGTH), 3)):
        w[i, list(taps)] = 2.0
    return w


def channel_mask(channels: int) -> torch.Tensor:
    """Which channels each kernel sums over (MiniRocket's multivariate variant): a random
    non-empty subset per kernel, from a fixed seed, so the same spec gives the same network."""
    rng = random.Random(0)  # Python's RNG: works the same under torch.device("meta")
    rows = [[0.0] * ROCKET_KERNELS for _ in range(channels)]
    for k in range(ROCKET_KERNELS):
        for c in rng.sample(range(channels), rng.randint(1, channels)):
            rows[c][k] = 1.0
    return torch.tensor(rows)
