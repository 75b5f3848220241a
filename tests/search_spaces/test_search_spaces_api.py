"""The public entry points: registries, option tables, and import hygiene."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

import search_spaces
from search_spaces import (
    ARCH_SPACES,
    LOSS_SPACES,
    ConvOptions,
    InputInfo,
    Registry,
    RegistryError,
    sample_arch,
    sample_loss,
)

ROOT = Path(__file__).resolve().parents[2]
INFO = InputInfo((1, 8, 8), 10)


def test_builtin_spaces_are_registered_on_import() -> None:
    assert ARCH_SPACES.names() == ["auto", "cnn1d", "cnn2d", "mlp", "rocket"]
    assert LOSS_SPACES.names() == ["ce", "fixed_ce", "searched", "symbolic"]
    assert search_spaces.HPARAM_SPACES.names() == ["default"]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: sample_arch("resnet", t, INFO),
        lambda t: sample_loss("mse", t, INFO),
        lambda t: search_spaces.sample_hparams("adam", t),
    ],
)
def test_unknown_space_lists_the_available_ones(call: Callable) -> None:
    with pytest.raises(RegistryError) as err:
        call(optuna.trial.FixedTrial({}))
    message = str(err.value)
    assert "unknown" in message and "available:" in message
    assert any(name in message for name in ("cnn2d", "searched", "default"))


def test_unknown_option_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"search.arch_options.max_stagez: unknown option"):
        sample_arch("cnn2d", optuna.trial.FixedTrial({}), INFO, {"max_stagez": 2})
    with pytest.raises(ValueError, match=r"search.loss_options.gamma: unknown option"):
        sample_loss("ce", optuna.trial.FixedTrial({}), INFO, {"gamma": 2})
    with pytest.raises(ValueError, match=r"search.arch_options.max_stages: unknown option; "
                                         r"allowed: families"):
        sample_arch("auto", optuna.trial.FixedTrial({}), INFO, {"max_stages": 2})


@pytest.mark.parametrize(
    "options,match",
    [
        ({"ops": ["conv3", "conv7"]}, r"search.arch_options.ops\[1\]: 'conv7' is not one of"),
        ({"widths": []}, "search.arch_options.widths: need at least one"),
        ({"widths": [16, 16]}, "search.arch_options.widths: has repeated"),
        ({"max_blocks": 0, "min_blocks": 1}, "search.arch_options.max_blocks"),
        ({"activations": ["tanh"]}, r"search.arch_options.activations\[0\]"),
        ({"dropout_max": 1.0}, "search.arch_options.dropout_max"),
        ({"residuals": ["yes"]}, r"search.arch_options.residuals\[0\]"),
    ],
)
def test_bad_option_values_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_arch("cnn2d", optuna.trial.FixedTrial({}), INFO, options)


def test_options_from_a_study_file_become_tuples() -> None:
    options = ConvOptions(widths=[8, 16], ops=["conv3"])  # type: ignore[arg-type]
    assert options.widths == (8, 16) and options.ops == ("conv3",)
    hash(options)


def test_conv_space_refuses_an_incompatible_shape(random_trial: Callable) -> None:
    with pytest.raises(ValueError, match="cnn2d.*dims"):
        sample_arch("cnn2d", random_trial(0), InputInfo((64,), 10))


def test_duplicate_registration_is_an_error() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("a")(object())
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("a")(object())


def test_import_hygiene() -> None:
    # registry.py stays torch-free; the package never pulls in optuna, automl or trainer.
    registry = str(ROOT / "search_spaces" / "registry.py")
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("reg", {registry!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
assert "torch" not in sys.modules, "registry.py imported torch"
import search_spaces
bad = [m for m in ("optuna", "automl", "trainer") if m in sys.modules]
assert not bad, bad
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
