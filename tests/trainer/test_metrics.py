"""Metrics from per-class tallies: equal to scikit-learn's, additive across shards, and what the
trainer reports as its validation and test figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from trainer import TrainConfig, train
from trainer.data import evaluate
from trainer.metrics import METRICS, Tallies
from trainer.types import DataSplits

SKLEARN = {"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
           "macro_f1": lambda y, p: f1_score(y, p, average="macro")}


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_scores_equal_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 200)
    y[y == 5] = 4  # a class never labelled; predicted sometimes
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, 6, 200))
    t = Tallies.of(pred, y, 6)
    for metric in METRICS:
        assert t.score(metric) == pytest.approx(SKLEARN[metric](y, pred), abs=1e-12)
    per_class = t.per_class_accuracy()
    assert per_class[5] is None
    assert per_class[0] == pytest.approx(float(np.mean(pred[y == 0] == 0)))


def test_tallies_add_up_across_shards() -> None:
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 4, 90), rng.integers(0, 4, 90)
    whole = Tallies.of(pred, y, 4)
    parts = [Tallies.of(pred[i::3], y[i::3], 4) for i in range(3)]
    empty = Tallies.of(np.zeros(0, int), np.zeros(0, int), 4)  # a rank with an empty shard
    summed = Tallies.from_flat(np.sum([p.flat() for p in [*parts, empty]], axis=0))
    assert np.array_equal(summed.counts, whole.counts)
    assert all(summed.score(m) == whole.score(m) for m in METRICS)
    assert np.isnan(empty.score("accuracy")) and len(empty.flat()) == 12
    with pytest.raises(ValueError, match="metric: 'auc' is not one of"):
        whole.score("auc")


class _Scaled(torch.nn.Module):
    def __init__(self, net: torch.nn.Module, scale: float) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.scale


def test_confidence_does_not_change_the_figures() -> None:
    """A smoothed and an unsmoothed network with the same predictions (here: the same logits,
    scaled down) score the same on every metric; only the NLL differs."""
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))
    net = torch.nn.Linear(3, 3)
    a, nll_a = evaluate(_Scaled(net, 5.0), x, y, 16, num_classes=3)
    b, nll_b = evaluate(_Scaled(net, 0.05), x, y, 16, num_classes=3)
    assert np.array_equal(a.counts, b.counts) and nll_a != pytest.approx(nll_b)
    assert all(a.score(m) == b.score(m) for m in METRICS)


def test_the_trainer_reports_the_configured_metric_and_per_class_test_accuracy() -> None:
    rng = np.random.default_rng(0)
    y = np.array([0] * 90 + [1] * 10)  # imbalanced: accuracy and balanced accuracy differ
    x = (rng.normal(size=(100, 4)) + y[:, None] * 0.7).astype(np.float32)
    splits = DataSplits(x[::2], y[::2], x[1::4], y[1::4], x[3::4], y[3::4], 2)

    def run(metric: str):  # noqa: ANN202
        cfg = TrainConfig(epochs=2, batch_size=16, latency_repeats=0, metric=metric)
        return train(None, None, splits, cfg, model_factory=lambda spec: torch.nn.Linear(4, 2),
                     loss_factory=lambda spec, counts: torch.nn.CrossEntropyLoss())

    plain, balanced = run("accuracy"), run("balanced_accuracy")
    # Same seed, same weights: the figures differ only by what they measure.
    per_class = balanced.test_per_class
    assert per_class is not None and len(per_class) == 2
    assert balanced.test_accuracy == pytest.approx(np.mean(per_class))
    counts = np.bincount(splits.y_test, minlength=2)
    assert plain.test_accuracy == pytest.approx(float(np.dot(per_class, counts) / counts.sum()))
    for rec_a, rec_b in zip(plain.history, balanced.history, strict=True):
        assert rec_a.val_loss == rec_b.val_loss  # the same network each epoch
