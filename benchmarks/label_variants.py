"""Label-noise and long-tail variants of suite sets (for ``loss_robustness.py``).

A variant changes the training part only; the test set stays clean and, for the long tails, is
made balanced. Each variant is drawn from a seed of (set, variant) alone, so every method and
search seed sees the same file.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.search_efficiency import write_npz
from benchmarks.suite import SUITE, Arrays

# name -> (kind, parameter): noise probability or imbalance ratio.
VARIANTS: dict[str, tuple[str, float]] = {
    "clean": ("clean", 0.0),
    "sym20": ("sym", 0.2),
    "sym40": ("sym", 0.4),
    "pair40": ("pair", 0.4),
    "lt10": ("lt", 10.0),
    "lt50": ("lt", 50.0),
    "lt100": ("lt", 100.0),
}
MIN_PER_CLASS = 1  # a class of one sample stays in training (automl.data.splits says so)



def variant_seed(name: str, variant: str) -> int:
    """The seed a variant's file is drawn from: of (set, variant) only, the same in every
    process (never of the method or the search seed)."""
    return zlib.crc32(f"{name}/{variant}".encode())


def flip_mask(n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Which of ``n`` labels to replace: round(p * n) of them, drawn uniformly. Each label is
    replaced with probability p, and the rate is p in every file, not only in expectation (on
    italy_power's 67 series, independent draws at 0.4 gave 0.49: next to pure noise)."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=int(round(p * n)), replace=False)] = True
    return mask


def symmetric_noise(y: np.ndarray, p: float, n_classes: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Labels replaced with probability ``p`` by another class, drawn uniformly."""
    y = np.asarray(y, dtype=np.int64)
    flip = flip_mask(len(y), p, rng)
    shift = rng.integers(1, n_classes, size=len(y))  # 1..C-1: never the class itself
    return np.where(flip, (y + shift) % n_classes, y)


def pair_noise(y: np.ndarray, p: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Labels c replaced with probability ``p`` by (c + 1) mod C."""
    y = np.asarray(y, dtype=np.int64)
    return np.where(flip_mask(len(y), p, rng), (y + 1) % n_classes, y)


def long_tail_counts(counts: list[int], ratio: float, floor: int = MIN_PER_CLASS) -> list[int]:
    """How many samples class k of ``counts`` keeps: n_max * ratio^(-k/(C-1)) (rounded down,
    at least ``floor``, at most what the class has), n_max the smallest count."""
    c = len(counts)
    n_max = min(counts)
    if c < 2:
        return list(counts)
    return [min(n, max(floor, int(n_max * ratio ** (-k / (c - 1)))))
            for k, n in enumerate(counts)]


def _keep(y: np.ndarray, counts: list[int], rng: np.random.Generator) -> np.ndarray:
    """Sorted indices holding ``counts[k]`` samples of every class k, drawn at random."""
    picked = [rng.choice(np.flatnonzero(y == k), size=n, replace=False)
              for k, n in enumerate(counts) if n > 0]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def long_tail_indices(y: np.ndarray, ratio: float, rng: np.random.Generator,
                      floor: int = MIN_PER_CLASS) -> np.ndarray:
    counts = np.bincount(y).tolist()
    return _keep(y, long_tail_counts(counts, ratio, floor), rng)


def balanced_indices(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every class present in ``y`` subsampled to the smallest present count."""
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    return _keep(y, [smallest if n else 0 for n in counts.tolist()], rng)


def make_variant(arrays: Arrays, variant: str, rng: np.random.Generator) -> Arrays:
    """``variant`` of (x, y, x_test, y_test): noise or long tail in the training part only."""
    x, y, x_test, y_test = arrays
    kind, param = VARIANTS[variant]
    n_classes = int(max(y.max(), y_test.max())) + 1
    if kind == "sym":
        return x, symmetric_noise(y, param, n_classes, rng), x_test, y_test
    if kind == "pair":
        return x, pair_noise(y, param, n_classes, rng), x_test, y_test
    if kind == "lt":
        keep, test = long_tail_indices(y, param, rng), balanced_indices(y_test, rng)
        return x[keep], y[keep], x_test[test], y_test[test]
    return arrays


def variant_arrays(name: str, variant: str) -> Arrays:
    rng = np.random.default_rng(variant_seed(name, variant))
    return make_variant(SUITE[name].load(), variant, rng)


def write_variant_npz(name: str, variant: str, out: Path) -> Path:
    """The file every method and seed searches for (set, variant), written once."""
    if variant == "clean":
        return write_npz(name, out)
    path = out / "data" / f"{name}__{variant}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        x, y, x_test, y_test = variant_arrays(name, variant)
        np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return path


def data_facts(name: str, variant: str, path: Path) -> dict[str, Any]:
    """What the searches of (set, variant) were given: sizes, class counts, the noise rate."""
    with np.load(path) as f:
        y, y_test = f["y"], f["y_test"]
    facts: dict[str, Any] = {
        "n_train": len(y), "n_test": len(y_test), "train_per_class": np.bincount(y).tolist(),
        "test_per_class": np.bincount(y_test).tolist(),
        "variant_seed": variant_seed(name, variant)}
    if VARIANTS[variant][0] in ("sym", "pair"):
        facts["noise_rate"] = float((y != SUITE[name].load()[1]).mean())
    return facts
