"""A fitted start (``fit_to_data``: rocket's ridge head) is scored as epoch 0 and kept unless a
trained epoch beats it on validation (issue 21)."""

from __future__ import annotations

import pytest
import torch
from test_rocket import _Recorder, _signals, spec
from torch import nn

from search_spaces import LossSpec, MLPSpec
from search_spaces.arch.net import HeldOut
from trainer import DataSplits, TrainConfig, train


class _Oracle(nn.Module):
    """A closed-form start that already separates the signals (a bump left or right), which
    training with a ruinous learning rate can only make worse."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(80, 2)

    def fit_to_data(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
            self.linear.weight[0, 12:28] = 1.0  # class 0: the bump near t=20
            self.linear.weight[1, 47:63] = 1.0  # class 1: near t=55

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def test_the_fitted_start_is_kept_when_no_epoch_beats_it() -> None:
    # Issue 21: rocket's SGD-refined head ended below the ridge fit it started from. The start
    # is scored as epoch 0: here training learns from swapped labels, so every epoch is worse
    # on validation than the start, which is kept.
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(60, 1), _signals(200, 2)
    oracle = _Oracle()
    oracle.fit_to_data(torch.from_numpy(x), torch.from_numpy(y))
    with torch.no_grad():
        start_val = (oracle(torch.from_numpy(xv)).argmax(1).numpy() == yv).mean()
        start_test = (oracle(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean()
    assert start_val > 0.9
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1.0, optimizer="adamw", latency_repeats=0,
                      device="cpu", seed=0)
    result = train(None, LossSpec("ce"), DataSplits(x, 1 - y, xv, yv, xt, yt, 2), cfg,
                   model_factory=lambda _spec: _Oracle())
    assert max(r.val_accuracy for r in result.history) < start_val  # training did ruin it
    assert result.best_epoch == 0 and result.val_accuracy == pytest.approx(start_val)
    assert result.test_accuracy == pytest.approx(start_test)  # the start's weights were kept
    assert torch.equal(result.state_dict["linear.weight"], oracle.linear.weight)


def test_keep_start_returns_the_fitted_start_with_no_epoch_trained() -> None:
    # The refit of a candidate that kept its start: an epoch judged on samples it trained on
    # must not replace it (digits with 40 % wrong labels: 94.7 % -> 87.6 % in such a refit).
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(60, 1), _signals(200, 2)
    oracle = _Oracle()
    oracle.fit_to_data(torch.from_numpy(x), torch.from_numpy(y))
    steps: list[int] = []
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1.0, optimizer="adamw", latency_repeats=0,
                      device="cpu", seed=0)
    data = DataSplits(x, 1 - y, xv, 1 - yv, xt, yt, 2)  # validation agrees with the training
    result = train(None, LossSpec("ce"), data, cfg, model_factory=lambda _spec: _Oracle(),
                   on_epoch=lambda rec: bool(steps.append(rec.epoch)), keep="start")
    assert result.history == [] and steps == [] and result.best_epoch == 0
    assert torch.equal(result.state_dict["linear.weight"], oracle.linear.weight)
    assert result.test_accuracy > 0.9  # the start's weights, scored on the test split
    # Without it, training on the swapped labels wins on the (equally swapped) validation.
    trained = train(None, LossSpec("ce"), data, cfg, model_factory=lambda _spec: _Oracle())
    assert trained.best_epoch >= 1 and trained.test_accuracy < 0.5
    # A model with no start to keep (no fit_to_data) trains as usual.
    plain = train(None, LossSpec("ce"), data, cfg, keep="start",
                  model_factory=lambda _spec: nn.Sequential(nn.Linear(80, 2)))
    assert len(plain.history) == 3


def test_keep_last_keeps_the_last_epoch_whatever_validation_says() -> None:
    # A refit's validation samples are trained on: chosen by them, refits kept the ridge start
    # of trials that had kept a trained epoch. Here every epoch is worse than the start.
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(60, 1), _signals(200, 2)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1.0, optimizer="adamw", latency_repeats=0,
                      device="cpu", seed=0)
    data = DataSplits(x, 1 - y, xv, yv, xt, yt, 2)
    best = train(None, LossSpec("ce"), data, cfg, model_factory=lambda _spec: _Oracle())
    last = train(None, LossSpec("ce"), data, cfg, model_factory=lambda _spec: _Oracle(),
                 keep="last")
    assert best.best_epoch == 0 and last.best_epoch == 3
    assert last.val_accuracy == last.history[-1].val_accuracy < best.val_accuracy
    with pytest.raises(ValueError, match="keep: 'first'"):
        train(None, LossSpec("ce"), data, cfg, keep="first")


def test_an_epoch_that_beats_the_start_replaces_it() -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(120, 0), _signals(40, 1), _signals(100, 2)
    cfg = TrainConfig(epochs=6, batch_size=16, lr=3e-3, optimizer="adamw", latency_repeats=0,
                      device="cpu", seed=0)
    made: list[_Recorder] = []  # starts from zero weights: chance on validation

    def factory(_spec: object) -> nn.Module:
        made.append(_Recorder())
        return made[-1]

    result = train(None, LossSpec("ce"), DataSplits(x, y, xv, yv, xt, yt, 2), cfg,
                   model_factory=factory)
    assert result.best_epoch >= 1
    assert result.val_accuracy == result.history[result.best_epoch - 1].val_accuracy


def test_a_tie_with_the_start_keeps_the_start() -> None:
    # "Kept when training does not beat it": an epoch that only equals the start on validation
    # does not replace it (between trained epochs, ties still go to the later one).
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(60, 1), _signals(100, 2)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.0, latency_repeats=0, device="cpu", seed=0)
    result = train(None, LossSpec("ce"), DataSplits(x, y, xv, yv, xt, yt, 2), cfg,
                   model_factory=lambda _spec: _Oracle())  # lr 0: every epoch equals the start
    assert [r.val_accuracy for r in result.history] == [result.val_accuracy] * 2
    assert result.best_epoch == 0


class _Reported(_Oracle):
    """The oracle, reporting the held-out evidence ``(pred, target)`` it is given."""

    def __init__(self, pred: list[int], target: list[int]) -> None:
        super().__init__()
        self.held = HeldOut(torch.tensor(pred), torch.tensor(target))

    def fit_to_data(self, x: torch.Tensor, y: torch.Tensor) -> HeldOut:
        super().fit_to_data(x, y)
        return self.held


@pytest.mark.parametrize(("metric", "figure"), [("accuracy", 5 / 6),
                                                ("balanced_accuracy", (3 / 4 + 1) / 2)])
def test_a_fitted_starts_held_out_evidence_reaches_the_result_in_the_metric(
        metric: str, figure: float) -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(20, 1), _signals(20, 2)
    cfg = TrainConfig(epochs=1, batch_size=16, latency_repeats=0, device="cpu", seed=0,
                      metric=metric)
    result = train(None, LossSpec("ce"), DataSplits(x, y, xv, yv, xt, yt, 2), cfg,
                   # 3 of 4 class-0 samples right, both class-1 samples
                   model_factory=lambda _spec: _Reported([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]))
    assert result.loo_accuracy == pytest.approx(figure) and result.loo_samples == 6


def test_rocket_reports_its_ridge_heads_leave_one_out_and_an_mlp_none() -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(20, 1), _signals(20, 2)
    splits = DataSplits(x, y, xv, yv, xt, yt, 2)
    cfg = TrainConfig(epochs=1, batch_size=16, latency_repeats=0, device="cpu", seed=0)
    rocket = train(spec((80,), 1000), LossSpec("ce"), splits, cfg)
    assert rocket.loo_samples == 60  # every training series, each scored without itself
    assert rocket.loo_accuracy is not None and rocket.loo_accuracy >= 0.9  # separable bumps
    mlp = train(MLPSpec(input_shape=(80,), num_classes=2, hidden=(16,)), LossSpec("ce"),
                splits, cfg)
    assert mlp.loo_accuracy is None and mlp.loo_samples is None


def test_no_leave_one_out_figure_where_a_class_has_one_sample() -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(60, 0), _signals(20, 1), _signals(20, 2)
    cfg = TrainConfig(epochs=1, batch_size=16, latency_repeats=0, device="cpu", seed=0)
    result = train(None, LossSpec("ce"), DataSplits(x, y, xv, yv, xt, yt, 2), cfg,
                   # class 1 has a single sample: its leave-one-out is undefined
                   model_factory=lambda _spec: _Reported([0, 0, 0], [0, 0, 1]))
    assert result.loo_accuracy is None and result.loo_samples is None
