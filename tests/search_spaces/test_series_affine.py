"""Flat series standardized per time step, read again as shipped by the signal families: the
affine of ``InputInfo.series_affine`` against figures computed from the raw series, its checks in
the specs, and the networks that apply it (rocket and the 1-D CNN) against the same networks fed
the series standardized as one whole."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from search_spaces import BlockSpec, ConvNetSpec, InputInfo, RocketSpec, StageSpec, build_model
from search_spaces.arch.blocks import centred_shift
from search_spaces.arch.conv import cnn1d_space
from search_spaces.arch.rocket import rocket_plan, rocket_space
from search_spaces.base import input_info, series_affine
from search_spaces.probe import ProbeTrial
from search_spaces.registry import FieldError
from trainer import DataSplits


def _raw(n: int = 60, length: int = 30, seed: int = 0) -> np.ndarray:
    """Series with a level and a scale of their own at every step (a table would look alike)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 6, length)
    return (5.0 + 3.0 * np.sin(t)[None] * rng.uniform(0.5, 2, (n, 1))
            + 0.3 * rng.standard_normal((n, length))).astype(np.float32)


def _per_step(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """``x`` standardized per step as flat samples are (automl.data), and the stats it keeps."""
    mean, std = x.mean(0), x.std(0)
    stats = {"axis": "feature", "mean": mean.tolist(), "std": std.tolist()}
    return ((x - mean) / std).astype(np.float32), stats


def test_the_affine_gives_the_series_as_shipped_and_the_networks_read_them_centred() -> None:
    raw = _raw()
    z, stats = _per_step(raw)
    affine = series_affine(stats)
    assert affine is not None
    scale, shift = (np.asarray(a) for a in affine)
    # As shipped, over the deviation of every training value together ...
    np.testing.assert_allclose(z * scale + shift, raw / raw.std(), atol=2e-4)
    # ... and, with the shifts' mean taken off (what the networks' buffers hold), centred too.
    centred = centred_shift(affine[1]).numpy()
    assert abs(shift.mean() - raw.mean() / raw.std()) < 1e-4
    expected = (raw - raw.mean()) / raw.std()
    np.testing.assert_allclose(z * scale + centred, expected, atol=2e-4)
    # Per-step standardization is what it undoes: each step had mean 0 and std 1.
    assert np.abs(z.mean(0)).max() < 1e-4 and np.abs(expected.mean(0)).max() > 0.5


def test_no_affine_for_channels_or_unstandardized_data() -> None:
    assert series_affine({"axis": "channel", "mean": [1.0], "std": [2.0]}) is None
    assert series_affine({"axis": "feature", "mean": [0.0] * 4, "std": [1.0] * 4}) is None
    assert series_affine(None) is None


def test_input_info_hands_the_affine_to_both_signal_spaces() -> None:
    z, stats = _per_step(_raw())
    y = np.arange(len(z)) % 2
    splits = DataSplits(z, y, z[:10], y[:10], z[:10], y[:10], 2)
    info = input_info(splits, None, stats)
    assert info.series_affine == series_affine(stats)
    rocket = rocket_space(ProbeTrial({"n_features": 840, "norm": "batch", "dropout": 0.0}), info)
    assert (rocket.input_scale, rocket.input_shift) == info.series_affine
    cnn = cnn1d_space(ProbeTrial({"n_stages": 1, "s0_blocks": 1}), info)
    assert (cnn.input_scale, cnn.input_shift) == info.series_affine
    again = RocketSpec.from_dict(rocket.to_dict())  # through JSON, as the database keeps it
    assert again == rocket
    assert input_info(splits).series_affine is None  # no standardization named, none applied


@pytest.mark.parametrize("bad,field", [
    (dict(input_scale=(1.0,) * 29, input_shift=(0.0,) * 30), "input_scale"),
    (dict(input_scale=(1.0,) * 29 + (0.0,), input_shift=(0.0,) * 30), "input_scale[29]"),
    (dict(input_scale=(1.0,) * 30, input_shift=(0.0,) * 29 + (float("nan"),)), "input_shift[29]"),
])
def test_specs_refuse_a_bad_affine_naming_the_field(bad: dict, field: str) -> None:
    dilations, per = rocket_plan(30, 840)
    with pytest.raises((ValueError, FieldError), match="RocketSpec." + re.escape(field)):
        RocketSpec(input_shape=(30,), num_classes=2, dilations=dilations, per_dilation=per, **bad)
    with pytest.raises(ValueError, match=r"InputInfo\.series_affine"):
        InputInfo((2, 30), 2, series_affine=((1.0,) * 30, (0.0,) * 30))


def _pair(kind: str, affine: tuple) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same network with and without the affine, with the same weights."""
    if kind == "rocket":
        dilations, per = rocket_plan(30, 840)
        make = lambda **kw: RocketSpec(input_shape=(30,), num_classes=2, dilations=dilations,  # noqa: E731
                                       per_dilation=per, **kw)
    else:
        stages = (StageSpec(8, (BlockSpec("conv3"),)),)
        make = lambda **kw: ConvNetSpec(kind="cnn1d", input_shape=(30,), num_classes=2,  # noqa: E731
                                        stem_width=8, stages=stages, **kw)
    torch.manual_seed(0)
    with_affine = build_model(make(input_scale=affine[0], input_shift=affine[1]))
    plain = build_model(make())
    # The plain spec's state dict is the old one: no affine buffers in it.
    assert not any("scale" in k for k in plain.state_dict())
    plain.load_state_dict({k: v for k, v in with_affine.state_dict().items()
                           if not k.endswith(("scale", "shift"))})
    return with_affine, plain


@pytest.mark.parametrize("kind", ["rocket", "cnn1d"])
def test_a_network_with_the_affine_reads_per_step_data_as_the_whole_series(kind: str) -> None:
    raw = _raw(n=100)
    z, stats = _per_step(raw)
    whole = ((raw - raw.mean()) / raw.std()).astype(np.float32)
    affine = series_affine(stats)
    assert affine is not None
    with_affine, plain = _pair(kind, affine)
    zt, wt = torch.from_numpy(z), torch.from_numpy(whole)
    if kind == "rocket":  # biases fitted on the series each network reads
        labels = torch.arange(len(zt)) % 2
        torch.manual_seed(1)  # the same series picked to fit the biases on
        with_affine.fit_to_data(zt, labels)
        # The view it kept (centred, or as shipped: rocket_views' tests) is what it reads.
        kept = with_affine.stem.get_buffer("shift").numpy()
        wt = torch.from_numpy(z * np.asarray(affine[0], np.float32) + kept)
        torch.manual_seed(1)
        plain.fit_to_data(wt, labels)
        with_affine, plain = with_affine.stem, plain.stem  # the features, before any head
        want_whole = ((raw - raw.mean()) / raw.std()).astype(np.float32)
        assert any(np.allclose(wt.numpy(), v, atol=2e-4) for v in (want_whole, raw / raw.std()))
    with torch.no_grad():
        got, want = with_affine.eval()(zt[:20]), plain.eval()(wt[:20])
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-3)
        # and per-step data fed to the plain network reads differently
        assert (plain(zt[:20]) - want).abs().max() > 0.05
