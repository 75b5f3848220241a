"""``auto`` searches every family that can read the input, as one categorical choice."""

from __future__ import annotations

import collections

import optuna
import pytest

from search_spaces import ConvNetSpec, InputInfo, MLPSpec, RocketSpec, auto_families, sample_arch
from search_spaces.arch.auto import scaled_conv_options
from search_spaces.hparams import scaled_batch_sizes


@pytest.mark.parametrize(("shape", "families"), [
    ((64,), {"mlp", "cnn1d", "rocket"}),
    ((6, 100), {"cnn1d", "cnn2d", "mlp", "rocket"}),
    ((1, 8, 8), {"cnn2d", "mlp"}),
])
def test_every_family_that_fits_is_offered(shape: tuple[int, ...], families: set[str]) -> None:
    assert set(auto_families(InputInfo(shape, 3))) == families


def test_a_2d_array_is_searched_as_signal_image_and_vector() -> None:
    info = InputInfo((6, 100), 4, n_train=40)
    spec = sample_arch("auto", optuna.trial.FixedTrial({
        "family": "cnn1d", "cnn1d.stem_width": 8, "cnn1d.n_stages": 1, "cnn1d.s0_width": 16,
        "cnn1d.s0_down": True, "cnn1d.s0_blocks": 1, "cnn1d.s0_b0_op": "conv5",
        "cnn1d.s0_b0_res": True, "cnn1d.activation": "relu", "cnn1d.norm": "batch",
        "cnn1d.dropout": 0.0}), info)
    assert isinstance(spec, ConvNetSpec) and spec.kind == "cnn1d"
    assert spec.in_channels == 6  # six channels of length 100, not a 6x100 image
    image = sample_arch("auto", optuna.trial.FixedTrial({
        "family": "cnn2d", "cnn2d.stem_width": 8, "cnn2d.n_stages": 1, "cnn2d.s0_width": 16,
        "cnn2d.s0_blocks": 1, "cnn2d.s0_b0_op": "skip", "cnn2d.activation": "relu",
        "cnn2d.norm": "none", "cnn2d.dropout": 0.0}), info)
    assert isinstance(image, ConvNetSpec) and image.kind == "cnn2d" and image.in_channels == 1
    flat = sample_arch("auto", optuna.trial.FixedTrial({
        "family": "mlp", "mlp.n_layers": 1, "mlp.l0_width": 32, "mlp.activation": "relu",
        "mlp.norm": "none", "mlp.dropout": 0.0, "mlp.members": 1}), info)
    assert isinstance(flat, MLPSpec)
    rocket = sample_arch("auto", optuna.trial.FixedTrial({
        "family": "rocket", "rocket.n_features": 1000, "rocket.norm": "batch",
        "rocket.dropout": 0.0}), info)
    assert isinstance(rocket, RocketSpec) and rocket.in_channels == 6
    assert rocket.n_features == 84 * (1000 // 84)  # MiniRocket's split over 84 kernels


def test_a_study_samples_every_family_and_keeps_their_parameters_apart() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(30):
        trial = study.ask()
        spec = sample_arch("auto", trial, InputInfo((64,), 10, n_train=1000))
        seen[spec.kind] += 1
        family = trial.params["family"]
        assert spec.kind == family
        assert all(k == "family" or k.startswith(f"{family}.") for k in trial.params)
        study.tell(trial, 0.5)
    assert min(seen[f] for f in ("mlp", "cnn1d", "rocket")) >= 5, seen


def test_families_option_restricts_and_rejects_what_cannot_fit() -> None:
    info = InputInfo((64,), 10)
    trial = optuna.trial.FixedTrial({"mlp.n_layers": 1, "mlp.l0_width": 64,
                                     "mlp.activation": "relu", "mlp.norm": "none",
                                     "mlp.dropout": 0.0, "mlp.members": 1})
    assert isinstance(sample_arch("auto", trial, info, {"families": ["mlp"]}), MLPSpec)
    with pytest.raises(ValueError, match="search.arch_options.families: none of"):
        sample_arch("auto", trial, info, {"families": ["cnn2d"]})
    with pytest.raises(ValueError, match=r"families\[0\]: 'rnn' is not one of"):
        sample_arch("auto", trial, info, {"families": ["rnn"]})


def test_defaults_scale_with_the_data() -> None:
    long_signal = scaled_conv_options("cnn1d", InputInfo((150,), 2, n_train=40))
    short = scaled_conv_options("cnn1d", InputInfo((24,), 2, n_train=40))
    assert long_signal.max_stages > short.max_stages
    assert max(long_signal.widths) < max(scaled_conv_options(
        "cnn1d", InputInfo((150,), 2, n_train=5000)).widths)
    assert max(scaled_batch_sizes(40)) < min(scaled_batch_sizes(5000))


def test_lag1_autocorrelation_tells_signals_from_table_columns() -> None:
    import numpy as np

    from search_spaces.base import lag1_autocorrelation

    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, 120)
    waves = np.sin(t[None] * rng.uniform(0.5, 2.0, (50, 1)) + rng.uniform(0, 6, (50, 1)))
    assert lag1_autocorrelation(waves) > 0.95
    assert lag1_autocorrelation(waves[:, None, :].repeat(3, axis=1)) > 0.95  # channels too
    assert abs(lag1_autocorrelation(rng.standard_normal((200, 30)))) < 0.1
    # A smooth signal's values in shuffled order (what a table's columns are) lose it.
    assert abs(lag1_autocorrelation(waves[:, rng.permutation(120)])) < 0.15
    assert lag1_autocorrelation(np.ones((5, 2))) == 0.0  # too short, or constant: no order
    assert lag1_autocorrelation(np.ones((5, 10))) == 0.0


def test_no_statistic_of_the_inputs_removes_a_family_it_only_orders_the_first() -> None:
    from search_spaces.arch.auto import default_families, start_order

    # An AC power trace alternates in sign at each step (lag-1 -0.2): still a signal, and
    # rocket is the family that reads it best. Nothing decided from lag-1 may take it away.
    alternating = InputInfo((300,), 10, n_train=100, lag1=-0.2)
    table = InputInfo((30,), 2, n_train=400, lag1=0.15)
    signal = InputInfo((30,), 2, n_train=400, lag1=0.9)
    for info in (alternating, table, signal, InputInfo((30,), 2)):
        assert set(default_families(info)) == {"mlp", "cnn1d", "rocket"}
    kinds = set()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        kinds.add(sample_arch("auto", study.ask(), alternating).kind)
    assert kinds == {"mlp", "cnn1d", "rocket"}
    families = default_families(table)
    assert start_order(table, families) == ("mlp", "cnn1d", "rocket")
    assert start_order(signal, families) == ("cnn1d", "rocket", "mlp")
    assert start_order(InputInfo((30,), 2), families) == ("cnn1d", "rocket", "mlp")  # unknown
    assert sorted(start_order(alternating, families)) == sorted(families)
    # Naming the families is still the user's choice.
    trial = optuna.trial.FixedTrial({"family": "rocket", "rocket.n_features": 1000,
                                     "rocket.norm": "none", "rocket.dropout": 0.0})
    spec = sample_arch("auto", trial, table, {"families": ["mlp", "rocket"]})
    assert isinstance(spec, RocketSpec)
