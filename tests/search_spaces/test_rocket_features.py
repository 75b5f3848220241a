"""The rocket transform's figures and what it reuses: its PPV against a NumPy reference (ties
included), the same features whatever the batch, and the validation split's features computed
once per training run, not once per epoch (and never kept outside a training run)."""

from __future__ import annotations

import numpy as np
import torch

from search_spaces import LossSpec, RocketSpec, build_model
from search_spaces.arch.rocket import (
    CHUNK_ELEMENTS,
    TRANSFORM_CHUNK,
    RocketFeatures,
    rocket_plan,
)
from search_spaces.arch.specs import ROCKET_KERNELS
from trainer import DataSplits, TrainConfig, train


def _spec(length: int = 50, features: int = 840, channels: int = 1) -> RocketSpec:
    dilations, per = rocket_plan(length, features)
    shape = (length,) if channels == 1 else (channels, length)
    return RocketSpec(input_shape=shape, num_classes=2, dilations=dilations, per_dilation=per)


def _series(n: int, length: int = 50, seed: int = 0) -> torch.Tensor:
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, length)).astype("f4"))
    x[:, 10:30] = 0.0  # flat stretches: convolution outputs equal to a fitted bias (ties)
    return x


def test_ppv_is_the_share_of_outputs_strictly_above_each_bias() -> None:
    torch.manual_seed(0)
    stem = build_model(_spec()).stem
    assert isinstance(stem, RocketFeatures)
    x = _series(100)
    stem.fit_to_data(x)
    expected, ties = [], 0
    for i, dilation in enumerate(stem.dilations):
        y = stem._conv(x.unsqueeze(1), dilation).numpy()  # (N, 84, L)
        bias = getattr(stem, f"bias{i}").numpy()  # (84, q)
        ties += int((y[..., None] == bias[None, :, None, :]).sum())
        expected.append((y[..., None] > bias[None, :, None, :]).mean(2).reshape(len(x), -1))
    with torch.no_grad():
        got = stem.eval()(x[:7]).numpy()  # a batch it has not seen: computed, not looked up
    assert ties > 0  # equal values count as not above: the test covers them
    np.testing.assert_array_equal(got, np.concatenate(expected, 1)[:7].astype("f4"))


def test_the_features_do_not_depend_on_the_batch() -> None:
    torch.manual_seed(0)
    model = build_model(_spec(40, 500, channels=3)).eval()
    x = torch.randn(2 * TRANSFORM_CHUNK + 5, 3, 40)
    model.stem.fit_to_data(x[:84])
    model.load_state_dict(model.state_dict())  # out of the training run: nothing is kept
    with torch.no_grad():
        whole = model.stem(x)
        one_by_one = torch.cat([model.stem(x[i : i + 1]) for i in range(len(x))])
    assert not model.stem._cache.rows
    assert torch.equal(whole, one_by_one)


def test_a_training_run_computes_each_validation_series_once() -> None:
    n_train, n_val, n_test, epochs = 40, 12, 9, 4
    x = _series(n_train + n_val + n_test, seed=1).numpy()
    y = (x[:, 35:].mean(1) > 0).astype(np.int64)
    computed: list[int] = []

    def factory(spec: RocketSpec) -> torch.nn.Module:
        model = build_model(spec)
        conv = model.stem._conv

        def counting(batch: torch.Tensor, dilation: int) -> torch.Tensor:
            if dilation == spec.dilations[0]:  # once per series and pass of the transform
                computed.append(len(batch))
            return conv(batch, dilation)

        model.stem._conv = counting
        return model

    a, b = n_train, n_train + n_val
    splits = DataSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 2)
    cfg = TrainConfig(epochs=epochs, batch_size=8, latency_repeats=0, num_threads=1)
    result = train(_spec(), LossSpec("ce"), splits, cfg, model_factory=factory)
    assert len(result.history) == epochs
    # The bias fit's series, every training, validation and test series once, and the FLOP
    # count's one sample; before, the validation split was transformed at every epoch.
    fit = min(84, n_train)
    chunk = TRANSFORM_CHUNK
    assert computed == [fit, chunk, n_train - chunk, n_val, n_test, 1], computed


def test_long_series_are_transformed_in_passes_of_bounded_size() -> None:
    """At 2,000 steps a pass of 32 series made 5M convolution outputs, and each elementwise op
    of the pass page-faulted a fresh 20 MB buffer (12x slower): passes are bounded by size."""
    length, passes = 2000, []
    model = build_model(_spec(length, 840)).eval()
    x = _series(20, length)
    model.stem.fit_to_data(x)
    model.load_state_dict(model.state_dict())
    conv = model.stem._conv

    def counting(batch: torch.Tensor, dilation: int) -> torch.Tensor:
        if dilation == model.stem.dilations[0]:
            passes.append(batch.shape[0] * ROCKET_KERNELS * batch.shape[-1])
        return conv(batch, dilation)

    model.stem._conv = counting
    with torch.no_grad():
        chunked = model.stem(x)
    assert len(passes) > 1 and max(passes) <= CHUNK_ELEMENTS, passes
    with torch.no_grad():  # the same figures as series one at a time
        assert torch.equal(chunked, torch.cat([model.stem(x[i:i + 1]) for i in range(20)]))
