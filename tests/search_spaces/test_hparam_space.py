"""Contract over every hyperparameter space."""

from __future__ import annotations

import json
from collections.abc import Callable

import optuna
import pytest

from search_spaces import HPARAM_SPACES, HParamSpec, sample_hparams


@pytest.mark.parametrize("name", HPARAM_SPACES.names())
@pytest.mark.parametrize("seed", range(5))
def test_hparam_space_contract(
    name: str, seed: int, random_trial: Callable[[int], optuna.Trial]
) -> None:
    spec = sample_hparams(name, random_trial(seed))
    assert isinstance(spec, HParamSpec)
    assert HParamSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    hash(spec)


def test_default_space_stays_in_its_ranges(random_trial: Callable[[int], optuna.Trial]) -> None:
    options = {"optimizers": ["sgd"], "lr_range": [0.01, 0.1], "batch_sizes": [16]}
    for seed in range(10):
        trial = random_trial(seed)
        spec = sample_hparams("default", trial, options)
        assert spec.optimizer == "sgd" and spec.batch_size == 16
        assert 0.01 <= spec.lr <= 0.1
        assert 1e-6 <= spec.weight_decay <= 1e-2
        assert set(trial.params) == {"optimizer", "lr", "weight_decay", "batch_size"}


def test_fixed_range_asks_nothing(random_trial: Callable[[int], optuna.Trial]) -> None:
    trial = random_trial(0)
    spec = sample_hparams("default", trial, {"lr_range": [0.003, 0.003]})
    assert spec.lr == 0.003 and "lr" not in trial.params


@pytest.mark.parametrize(
    "options,match",
    [
        ({"optimizers": ["adam"]}, r"search.hparam_options.optimizers\[0\].*adam"),
        ({"lr_range": [0.0, 1.0]}, "search.hparam_options.lr_range.*low > 0"),
        ({"lr_range": [0.1, 0.01]}, "search.hparam_options.lr_range.*low <= high"),
        ({"batch_sizes": []}, "search.hparam_options.batch_sizes"),
        ({"momentum": 0.9}, "search.hparam_options.momentum: unknown option"),
    ],
)
def test_bad_hparam_options_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_hparams("default", optuna.trial.FixedTrial({}), options)


def test_bad_hparam_spec_is_named() -> None:
    with pytest.raises(ValueError, match="HParamSpec.batch_size"):
        HParamSpec.from_dict({"optimizer": "sgd", "lr": 0.1, "weight_decay": 0, "batch_size": 0})
