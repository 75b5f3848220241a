"""How this process runs torch: its intra-op threads, and a median wall-time measure.

Importing this module does not import torch, so the ONNX-only paths of ``automl.export`` can
use it too.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (None: unchanged), restoring the count after."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def median_ms(call: Callable[[], Any], repeats: int, warmup: int) -> float:
    """Median wall time of ``call()`` in milliseconds, after ``warmup`` untimed calls (first
    calls pay for allocations and kernel selection; the median shrugs off scheduler noise)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3
