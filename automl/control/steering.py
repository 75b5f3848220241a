"""The sampler steered by the family race: a family out of the race is no longer proposed.

Optuna needs a fixed choice set, so the ``family`` parameter keeps offering every family; this
wrapper around the study's sampler answers it with a family still in the race
(:mod:`automl.policy.families`) whenever the sampler would pick one that is out. Every other
parameter, and everything the sampler learns, is the wrapped sampler's own. A queued trial
(fixed parameters) never asks the sampler, so the strong starts and the loss probes are not
steered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.samplers import BaseSampler

from automl.policy.families import (
    FAMILY,
    Standing,
    entries_from_trials,
    families_offered,
    standings,
)


def race(trials: Sequence[optuna.trial.FrozenTrial], pareto: bool) -> dict[str, Standing]:
    """The standing of each family the study's space offers, from its trials so far."""
    entries, n_val = entries_from_trials(trials)
    return standings(entries, families_offered(trials), n_val, pareto=pareto)


class FamilySteering(BaseSampler):
    """``base``, except that the ``family`` parameter is never a family out of the race."""

    def __init__(self, base: BaseSampler, *, pareto: bool, seed: int) -> None:
        self.base, self.pareto = base, pareto
        self._rng = random.Random(seed)
        self.out: frozenset[str] = frozenset()

    def reseed_rng(self) -> None:
        self.base.reseed_rng()
        self._rng.seed()

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.base.before_trial(study, trial)
        table = race(study.get_trials(deepcopy=False), self.pareto)
        self.out = frozenset(f for f, s in table.items() if not s.racing)

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        space: dict[str, Any] = self.base.infer_relative_search_space(study, trial)
        return space

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = self.base.sample_relative(study, trial, search_space)
        if params.get(FAMILY) in self.out:  # asked again, then steered in sample_independent
            params = {k: v for k, v in params.items() if k != FAMILY}
        return params

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           param_name: str, param_distribution: Any) -> Any:
        value = self.base.sample_independent(study, trial, param_name, param_distribution)
        if param_name == FAMILY and value in self.out:
            racing = [c for c in param_distribution.choices if c not in self.out]
            if racing:
                value = self._rng.choice(racing)
        return value

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                    state: optuna.trial.TrialState, values: Sequence[float] | None) -> None:
        self.base.after_trial(study, trial, state, values)


def steered(sampler: BaseSampler, *, pareto: bool, seed: int, on: bool) -> BaseSampler:
    """``sampler`` wrapped in :class:`FamilySteering` when ``on`` (``search.family_race``)."""
    return FamilySteering(sampler, pareto=pareto, seed=seed) if on else sampler
