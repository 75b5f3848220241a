"""Shared fixtures: random Optuna trials, and quiet Optuna logs."""

from __future__ import annotations

from collections.abc import Callable

import optuna
import pytest
import torch

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    # Tiny models: thread start-up costs more than it saves on a 2-core CI runner.
    torch.set_num_threads(1)


@pytest.fixture
def random_trial() -> Callable[[int], optuna.Trial]:
    """``random_trial(seed)``: a fresh trial of a RandomSampler(seed) study."""

    def ask(seed: int) -> optuna.Trial:
        return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()

    return ask
