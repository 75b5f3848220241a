"""Small timing and accuracy helpers shared by export, quantization and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainer.runtime import median_ms

LATENCY_REPEATS = 200
LATENCY_WARMUP = 20


def latency_ms(fn: Callable[[np.ndarray], Any], x: np.ndarray, repeats: int = LATENCY_REPEATS,
               warmup: int = LATENCY_WARMUP) -> float:
    """Median wall time of ``fn(x)`` in milliseconds (the median shrugs off scheduler noise)."""
    return median_ms(lambda: fn(x), repeats, warmup)


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == y)) if len(y) else float("nan")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
