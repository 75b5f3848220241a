"""Probing a space without a study: the cheapest candidate by coordinate descent, the middle
of each range."""

from __future__ import annotations

import optuna
import pytest

from search_spaces import InputInfo, sample_arch, sample_hparams
from search_spaces.probe import MiddleTrial, ProbeTrial, cheapest, smallest


def _flops(spec) -> float:  # noqa: ANN001 - any arch spec
    """FLOPs of one forward pass, counted on the meta device."""
    from trainer import static_cost

    return float(static_cost(spec).flops)


def test_middle_trial_answers_the_middle_of_each_range() -> None:
    t = MiddleTrial()
    assert t.suggest_float("lr", 3e-4, 3e-2, log=True) == pytest.approx(3e-3)
    assert t.suggest_float("wd", 1e-6, 1e-2, log=True) == pytest.approx(1e-4)
    assert t.suggest_float("ls", 0.0, 0.2, step=0.05) == pytest.approx(0.1)
    assert t.suggest_float("x", 0.0, 1.0) == pytest.approx(0.5)
    assert t.suggest_int("n", 1, 5) == 3
    assert t.suggest_int("m", 1, 100, log=True) == 10
    assert t.suggest_categorical("bs", (128, 16, 64, 32)) == 64  # the middle of the sorted sizes
    assert t.suggest_categorical("opt", ("adamw", "sgd")) == "adamw"
    # Stored exactly as the user would write them (3e-3, not 0.0029999999999999996).
    assert t.values == {"lr": 0.003, "wd": 0.0001, "ls": 0.1, "x": 0.5, "n": 3, "m": 10,
                        "bs": 64, "opt": "adamw"}


def test_middle_hparams_are_a_usual_default() -> None:
    t = MiddleTrial()
    hp = sample_hparams("default", t, {"batch_sizes": (16, 32, 64, 128)})
    assert (hp.optimizer, hp.lr, hp.batch_size) == ("adamw", 0.003, 64)
    assert pytest.approx(1e-4) == hp.weight_decay


def test_cheapest_keeps_fixed_parameters_and_its_params_replay_the_spec() -> None:
    info = InputInfo((24,), 3, n_train=200)

    def sample(trial):  # noqa: ANN001, ANN202
        return sample_arch("auto", trial, info, {"families": ["mlp", "cnn1d"]})

    for family in ("mlp", "cnn1d"):
        found = cheapest(sample, _flops, fixed={"family": family})
        assert found.params["family"] == family
        # The answers are a complete trial: Optuna's FixedTrial rebuilds the same candidate.
        assert sample(optuna.trial.FixedTrial(found.params)) == found.spec
        # Nothing random sampling of the same family finds is cheaper.
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(40):
            trial = study.ask()
            spec = sample_arch("auto", trial, info, {"families": [family]})
            assert _flops(spec) >= found.cost
            study.tell(trial, 0.0)


def test_smallest_is_cheapest_without_the_params() -> None:
    info = InputInfo((24,), 3, n_train=200)

    def sample(trial):  # noqa: ANN001, ANN202
        return sample_arch("mlp", trial, info)

    spec, cost = smallest(sample, _flops)
    found = cheapest(sample, _flops)
    assert (spec, cost) == (found.spec, found.cost)
    assert ProbeTrial(found.params).picks == found.params
