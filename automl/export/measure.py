"""Small timing and accuracy helpers shared by export, quantization and the benchmark."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

LATENCY_REPEATS = 200
LATENCY_WARMUP = 20


def latency_ms(fn: Callable[[np.ndarray], Any], x: np.ndarray, repeats: int = LATENCY_REPEATS,
               warmup: int = LATENCY_WARMUP) -> float:
    """Median wall time of ``fn(x)`` in milliseconds (the median shrugs off scheduler noise)."""
    for _ in range(warmup):  # first calls pay for allocation and kernel selection
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == y)) if len(y) else float("nan")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


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
