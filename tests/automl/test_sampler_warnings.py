"""A search with cost limits prints nothing but its own lines: the samplers' constraint
functions (deprecated in Optuna 5.0, still supported) must not warn on every search."""

from __future__ import annotations

import warnings

import pytest

from automl.control.samplers import SAMPLERS, make_sampler


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_sampler_with_constraints_warns_about_nothing(name: str) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        make_sampler(name, seed=0, constraints=lambda trial: [0.0])
    assert not [w for w in seen if "constraints_func" in str(w.message)], seen
