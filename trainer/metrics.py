"""Classification metrics from per-class tallies that add up across ranks (numpy only).

A :class:`Tallies` holds, for every class, the samples labelled with it, the hits among them and
the samples predicted as it: sums, so each rank counts its shard and one all-reduce gives the
whole split. From them:

* ``accuracy``: hits / samples;
* ``balanced_accuracy``: the mean over the classes present of hits / samples (the recall of
  each class; scikit-learn's ``balanced_accuracy_score``);
* ``macro_f1``: the mean over the classes labelled or predicted of 2·hits / (samples +
  predicted) (scikit-learn's ``f1_score(average="macro")``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
NOISE_SE = 2.0  # standard errors of a validation figure that count as a clear difference


def validation_noise(figure: float, samples: int) -> float:
    """How far apart two validation figures near ``figure`` on ``samples`` samples must be to
    differ by more than chance: ``NOISE_SE`` binomial standard errors, never under one sample."""
    n = max(1, samples)
    p = min(max(figure, 0.0), 1.0)
    return max(NOISE_SE * math.sqrt(p * (1.0 - p) / n), 1.0 / n)


@dataclass(frozen=True)
class Tallies:
    counts: np.ndarray  # (3, C): samples, hits, predicted, per class

    @classmethod
    def of(cls, pred: np.ndarray, target: np.ndarray, num_classes: int) -> Tallies:
        pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
        hit = target[pred == target]
        return cls(np.stack([np.bincount(a, minlength=num_classes)[:num_classes]
                             for a in (target, hit, pred)]).astype(np.float64))

    @classmethod
    def from_flat(cls, values: Sequence[float]) -> Tallies:
        return cls(np.asarray(values, dtype=np.float64).reshape(3, -1))

    def flat(self) -> list[float]:
        return self.counts.ravel().tolist()

    def __add__(self, other: Tallies) -> Tallies:
        return Tallies(self.counts + other.counts)

    @property
    def samples(self) -> int:
        return int(self.counts[0].sum())

    @property
    def hits(self) -> int:
        return int(self.counts[1].sum())

    def score(self, metric: str) -> float:
        """``metric`` of these tallies; NaN when there is no sample."""
        samples, hits, predicted = self.counts
        if not samples.sum():
            return float("nan")
        if metric == "accuracy":
            return float(hits.sum() / samples.sum())
        if metric == "balanced_accuracy":
            present = samples > 0
            return float(np.mean(hits[present] / samples[present]))
        if metric == "macro_f1":
            seen = (samples + predicted) > 0
            return float(np.mean(2 * hits[seen] / (samples[seen] + predicted[seen])))
        raise ValueError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")

    def per_class_accuracy(self) -> list[float | None]:
        """hits / samples of every class (None where the split has no sample of it)."""
        samples, hits, _ = self.counts
        return [float(h / n) if n else None for h, n in zip(hits, samples, strict=True)]
