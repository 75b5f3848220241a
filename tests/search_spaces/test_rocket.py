"""The ``rocket`` family: MiniRocket's plan and kernels, bias fitting, saving, learning, the
same features on every rank, and the head's closed-form start (the ridge classifier against
scikit-learn's, the head computing its scores, the trainer calling the initialisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.linear_model import RidgeClassifier, RidgeClassifierCV
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from torch import nn

from search_spaces import LossSpec, RocketSpec, build_model
from search_spaces.arch.ridge import ALPHAS, LOGIT_SCALE, fit_linear_head, ridge_classifier
from search_spaces.arch.rocket_plan import kernels, rocket_plan
from trainer import DataSplits, TrainConfig, train


def spec(shape: tuple[int, ...] = (60,), features: int = 1000, classes: int = 2) -> RocketSpec:
    dilations, per = rocket_plan(shape[-1], features)
    return RocketSpec(input_shape=shape, num_classes=classes, dilations=dilations,
                      per_dilation=per)


# (length, features, dilations, features per kernel at each), worked out by hand by MiniRocket's
# rule (its reference code gives the same): features // 84 per kernel; as many exponents, evenly
# from 0 to log2((length - 1) / 8); a dilation is int(2 ** exponent), repeats merged and counted.
# E.g. 150 long, 1000 features: 11 per kernel, 2 ** (k / 10 * log2(149 / 8)) for k = 0..10 is
# 1, 1.3, 1.8, 2.4, 3.2, 4.3, 5.8, 7.7, 10.4, 13.9, 18.6.
PLANS = [
    (9, 84, (1,), (1,)),  # one feature per kernel: one dilation
    (1000, 84, (1,), (1,)),
    (9, 1000, (1,), (11,)),  # the 9-tap kernel spans a 9-long series at dilation 1
    (24, 1000, (1, 2), (7, 4)),  # 2 ** (k / 10 * log2(23 / 8)): 1.0 .. 1.88, then 2.09 .. 2.88
    (150, 1000, (1, 2, 3, 4, 5, 7, 10, 13, 18), (3, 1, 1, 1, 1, 1, 1, 1, 1)),
]


@pytest.mark.parametrize(("length", "features", "dilations", "per"), PLANS)
def test_plan_is_minirocket_worked_by_hand(length: int, features: int,
                                           dilations: tuple[int, ...], per: tuple[int, ...]
                                           ) -> None:
    assert rocket_plan(length, features) == (dilations, per)


@pytest.mark.parametrize("length", [9, 24, 150, 1000])
@pytest.mark.parametrize("features", [84, 1000, 10000])
def test_plan_spreads_features_over_dilations_like_minirocket(length: int, features: int) -> None:
    dilations, per = rocket_plan(length, features)
    assert sum(per) == features // 84 and min(per) >= 1  # every kernel gets its share
    assert dilations[0] == 1 and list(dilations) == sorted(set(dilations))
    assert len(dilations) == len(per) <= 32
    # the widest dilation lets the 9-tap kernel span the series, never more; with more than
    # one feature per kernel it is the widest that does
    assert 8 * dilations[-1] <= max(8, length - 1)
    assert features < 2 * 84 or 8 * (dilations[-1] + 1) > length - 1
    assert per[0] == max(per)  # small dilations repeat most


def test_the_84_kernels_are_every_placement_of_three_twos() -> None:
    w = kernels()
    assert w.shape == (84, 9) and len({tuple(r.tolist()) for r in w}) == 84
    assert torch.all(w.sum(1) == 0) and torch.all((w == 2).sum(1) == 3)


def test_biases_are_fitted_once_on_the_first_training_batch() -> None:
    model = build_model(spec())
    x = torch.randn(16, 60)
    model.eval()
    with torch.no_grad():
        model(x)  # evaluation never fits
    assert not bool(model.stem.fitted) and torch.all(model.stem.bias0 == 0)
    model.train()
    with torch.no_grad():
        model(x)  # nor does a training-mode forward without gradients
    assert not bool(model.stem.fitted)
    model(x)
    assert bool(model.stem.fitted)
    fitted = model.stem.bias0.clone()
    # The biases are quantiles of one example's response: increasing along the levels' order,
    # inside that response's range, and kept by later batches.
    assert torch.all(fitted[:, 0] != fitted[:, 1])
    model(torch.randn(16, 60) * 10)
    assert torch.equal(model.stem.bias0, fitted)
    feats = model.stem(x)
    assert feats.shape == (16, spec().n_features) and feats.min() >= 0 and feats.max() <= 1


def test_saved_state_rebuilds_the_network_from_the_meta_device() -> None:
    """Bundles are loaded like this: built on ``meta``, then given the saved tensors; every
    buffer must be in the state, or it would be left without data."""
    s = spec((3, 40), 500, 3)
    model = build_model(s).train()
    model(torch.randn(8, 3, 40))
    state = model.state_dict()
    n = len(s.dilations)
    assert {k for k in state if k.startswith("stem.")} == (
        {f"stem.bias{i}" for i in range(n)} | {f"stem.levels{i}" for i in range(n)}
        | {"stem.weight", "stem.mask", "stem.fitted"})
    with torch.device("meta"):
        twin = build_model(s)
    twin.load_state_dict(state, strict=True, assign=True)
    assert not any(t.is_meta for t in [*twin.parameters(), *twin.buffers()])
    x = torch.randn(5, 3, 40)
    assert torch.equal(twin.eval()(x), model.eval()(x))


def _signals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes that differ only in where a short bump sits (a shape, not a level)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.arange(80)
    centre = np.where(y == 0, 20, 55)[:, None] + rng.integers(-4, 5, (n, 1))
    x = np.exp(-0.5 * ((t[None] - centre) / 2.0) ** 2) + 0.3 * rng.standard_normal((n, 80))
    return x.astype(np.float32), y.astype(np.int64)


def test_the_trainer_trains_its_head_to_separate_signals() -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(120, 0), _signals(40, 1), _signals(200, 2)
    splits = DataSplits(x, y, xv, yv, xt, yt, 2)
    loss = LossSpec("ce")
    cfg = TrainConfig(epochs=15, batch_size=16, lr=3e-3, optimizer="adamw", latency_repeats=0,
                      device="cpu", seed=0)
    result = train(spec((80,), 1000), loss, splits, cfg)
    # chance is 0.5; a linear model on the raw samples cannot place the bump's shift
    assert result.test_accuracy is not None and result.test_accuracy >= 0.9
    assert result.state_dict["stem.fitted"].item() is True


def _fit_on_rank(rank: int, folder: str) -> None:
    # A file rendezvous: no port to pick, so none another process can take first.
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank,
                            world_size=2)
    try:
        torch.manual_seed(0)
        model = build_model(spec()).train()
        torch.manual_seed(100 + rank)  # each rank sees different data
        model(torch.randn(8, 60) * (1 + rank))
        torch.save(model.stem.bias0, f"{folder}/bias{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_every_rank_fits_rank_0s_biases(tmp_path: Path) -> None:
    mp.spawn(_fit_on_rank, args=(str(tmp_path),), nprocs=2, join=True)
    biases = [torch.load(tmp_path / f"bias{rank}.pt") for rank in (0, 1)]
    assert torch.equal(biases[0], biases[1])
    assert torch.count_nonzero(biases[0]) > 0


def test_training_reuses_each_samples_features_and_evaluation_never_does() -> None:
    model = build_model(spec((2, 30), 500)).train()
    x = torch.randn(12, 2, 30)
    model(x[:4])  # fits
    cache = model.stem._cache
    assert not cache.rows  # the fitting batch is not kept: its features predate the biases
    first = model.stem(x[[3, 1, 7]])
    assert len(cache.rows) == 3
    again = model.stem(x[[7, 3, 1, 9]])  # three hits, one miss, in the batch's own order
    assert len(cache.rows) == 4
    assert torch.equal(again[:3], first[[2, 0, 1]])
    model.eval()
    assert torch.equal(model.stem(x[[7, 3, 1, 9]]), again)  # what the transform computes
    model.stem(x)
    assert len(cache.rows) == 4  # evaluation and serving keep nothing
    model.train()
    model.load_state_dict(model.state_dict())
    assert not cache.rows  # new biases could mean new features
    cache.max_bytes = cache.bytes + 2 * again[0].nbytes
    model.stem(x)
    assert len(cache.rows) == 2  # a full cache computes the rest every time


def test_different_samples_with_equal_fingerprints_cannot_collide() -> None:
    model = build_model(spec((20,), 300)).train()
    model(torch.randn(4, 20))
    a = torch.zeros(1, 20)
    b = torch.zeros(1, 20)
    b[0, 0] = -0.0  # the same value, other bytes: computed on its own, the same features
    c = torch.zeros(1, 20)
    c[0, 5] = 1e-30
    out = [model.stem(t) for t in (a, b, c)]
    assert len(model.stem._cache.rows) == 3
    assert torch.equal(out[0], out[1])


def _data(n: int = 45, p: int = 300, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = rng.standard_normal((n, p)) + 0.6 * rng.standard_normal((k, p))[y]
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ridge_classifier_is_scikit_learns_ridge_classifier_cv(seed: int) -> None:
    x, y = _data(seed=seed)
    z = x - x.mean(0)
    weight, intercept, alpha, _ = ridge_classifier(torch.from_numpy(z), torch.from_numpy(y), 3)
    ref = RidgeClassifierCV(alphas=ALPHAS).fit(z, y)
    assert alpha == pytest.approx(ref.alpha_)
    np.testing.assert_allclose(weight.numpy(), ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(intercept.numpy(), ref.intercept_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("seed", "n", "p", "k", "sep"),
                         [(0, 45, 300, 3, 0.1), (1, 60, 20, 4, 0.3), (3, 80, 50, 2, 0.1)])
def test_leave_one_out_is_exact_and_chooses_scikit_learns_alpha_on_hard_data(
        seed: int, n: int, p: int, k: int, sep: float) -> None:
    # Weakly separated classes: the intercept's share of the hat matrix decides (without it
    # the first case chose alpha 0.001, not 215, and read 100 % leave-one-out accuracy).
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.standard_normal((n, p)) + sep * rng.standard_normal((k, p))[y]
    fit = ridge_classifier(torch.from_numpy(x - x.mean(0)), torch.from_numpy(y), k)
    assert fit.alpha == pytest.approx(RidgeClassifierCV(alphas=ALPHAS).fit(x, y).alpha_)
    brute = cross_val_predict(RidgeClassifier(alpha=fit.alpha), x, y, cv=LeaveOneOut())
    np.testing.assert_array_equal(fit.loo_pred.numpy(), brute)
    assert (brute == y).mean() < 0.9  # hard data: a leak would show as a perfect score


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_the_head_computes_the_scaled_ridge_scores_of_standardized_features(norm: str) -> None:
    x, y = _data(seed=3)
    x[:, 7] = 2.0  # a constant feature must not divide by zero
    features = torch.from_numpy(x).float()
    layer: nn.Module = nn.BatchNorm1d(x.shape[1]) if norm == "batch" else nn.Identity()
    head = nn.Sequential(layer, nn.Dropout(0.2), nn.Linear(x.shape[1], 3))
    alpha = fit_linear_head(head, features, torch.from_numpy(y), 3).alpha
    eps = head[0].eps if norm == "batch" else 0.0
    std = np.sqrt(x.var(0, ddof=1) + eps)
    std = std if norm == "batch" else np.maximum(std, 1e-6)
    z = (x - x.mean(0)) / std
    ref = RidgeClassifier(alpha=alpha).fit(z, y)
    with torch.no_grad():
        logits = head.eval()(features).double().numpy()
    np.testing.assert_allclose(logits, LOGIT_SCALE * ref.decision_function(z), atol=2e-3)
    assert (logits.argmax(1) == y).mean() == 1.0  # 45 samples, 300 features: separable


def test_fit_to_data_separates_signals_before_any_training_step() -> None:
    (x, y), (xt, yt) = _signals(60, 0), _signals(200, 1)
    torch.manual_seed(0)
    model = build_model(spec((80,), 1000))
    untrained = model.eval()(torch.from_numpy(xt)).argmax(1).numpy()
    model.fit_to_data(torch.from_numpy(x), torch.from_numpy(y))
    assert model.stem.fitted.item() is True
    assert len(model.stem._cache.rows) == 60  # the training features are kept for the steps
    with torch.no_grad():
        fitted = model.eval()(torch.from_numpy(xt)).argmax(1).numpy()
    assert (fitted == yt).mean() >= 0.95
    assert (untrained == yt).mean() < 0.8


class _Recorder(nn.Module):
    """A custom network with a data-dependent initialisation: what does the trainer pass?"""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(80, 2)
        self.seen: list[tuple[int, ...]] = []

    def fit_to_data(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.seen.append((*x.shape, *y.shape))
        with torch.no_grad():
            self.linear.weight.zero_()  # a start training cannot have come from

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def test_the_trainer_initialises_from_the_whole_training_split_once() -> None:
    (x, y), (xv, yv), (xt, yt) = _signals(50, 0), _signals(20, 1), _signals(30, 2)
    made: list[_Recorder] = []

    def factory(_spec: object) -> nn.Module:
        made.append(_Recorder())
        return made[-1]

    cfg = TrainConfig(epochs=2, batch_size=16, latency_repeats=0, device="cpu", lr=0.0)
    train(None, LossSpec("ce"), DataSplits(x, y, xv, yv, xt, yt, 2), cfg, model_factory=factory)
    assert [m.seen for m in made][0] == [(50, 80, 50)]
    assert torch.count_nonzero(made[0].linear.weight) == 0  # lr 0: the start is what trained

