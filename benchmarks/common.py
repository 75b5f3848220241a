"""What several benchmark scripts share: the machine they ran on, the digits data, the JSON."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from trainer.types import DataSplits


def cpu_model() -> str:
    """The CPU's model name as ``/proc/cpuinfo`` gives it (else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy so far (every process: workers, a database
    server, the caller), from ``/proc/stat``; None where there is none."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def digits_xy() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float32 (n, 64) pixels and int64 labels; random images of that
    shape where scikit-learn is missing, e.g. on a bare GPU machine (throughput, memory and
    bytes do not depend on the pixel values)."""
    try:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
    except ImportError:
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(1797, 64)), rng.integers(0, 10, 1797)
    return x.astype(np.float32), y.astype(np.int64)


def digits_splits() -> DataSplits:
    """Standardized digits (1x8x8), split 70/15/15 with a fixed permutation."""
    x, y = digits_xy()
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    a, b = int(0.7 * len(y)), int(0.85 * len(y))
    mean, std = x[:a].mean(axis=0), x[:a].std(axis=0) + 1e-6
    x = ((x - mean) / std).reshape(-1, 1, 8, 8)
    return DataSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 10)


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """``result`` as indented JSON at ``path`` (nothing when no ``--json`` was given)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
