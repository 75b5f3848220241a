"""Sampler and pruner registries: study-file names -> Optuna objects.

``SAMPLERS`` and ``PRUNERS`` are the one list of names: the config's ``study.sampler`` and
``study.pruner`` allow exactly these (in this order), and the factories below look them up.
Optuna itself is imported only when a sampler or pruner is made.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

ConstraintsFunc = Callable[["optuna.trial.FrozenTrial"], Sequence[float]]


@dataclass(frozen=True)
class SamplerKind:
    """``make(seed, constraints)``; ``multi_objective``: it can search a Pareto front."""

    make: Callable[[int, ConstraintsFunc | None], Any]
    multi_objective: bool = True


@contextlib.contextmanager
def _quiet_constraints() -> Iterator[None]:
    """Optuna 5.0 deprecates ``constraints_func`` (removal planned for 7.0) in favour of
    ``Trial.set_constraint``; until the trials record their constraints that way, its warning
    would print a line with the library's path on every search with limits."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`constraints_func` has been deprecated",
                                FutureWarning)
        yield


def _tpe(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

    with _quiet_constraints():
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constraints_func=constraints
        )


def _nsga2(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

    with _quiet_constraints():
        return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)


def _random(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _cmaes(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

    # CMA-ES handles the numeric parameters; categorical ones (ops, activations) fall back
    # to an independent sampler, which is the documented Optuna behaviour.
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


SAMPLERS: dict[str, SamplerKind] = {
    "tpe": SamplerKind(_tpe),
    "nsga2": SamplerKind(_nsga2),
    "random": SamplerKind(_random),
    "cmaes": SamplerKind(_cmaes, multi_objective=False),
}


def _asha(epochs: int, first_rung: int) -> Any:
    import optuna

    # The first rung is the study plan's, the same as MO-ASHA's (automl.policy.budget).
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_rung)


def _hyperband(epochs: int, first_rung: int) -> Any:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)


def _median(epochs: int, first_rung: int) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))


def _nop(epochs: int, first_rung: int) -> Any:
    import optuna

    return optuna.pruners.NopPruner()


# Single-objective pruners by name; a Pareto search prunes with MO-ASHA (automl/policy/pruning.py)
# unless the pruner is "none".
PRUNERS: dict[str, Callable[[int, int], Any]] = {
    "asha": _asha,
    "hyperband": _hyperband,
    "median": _median,
    "none": _nop,
}


def make_sampler(name: str, seed: int, constraints: ConstraintsFunc | None
                 ) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` (one of :data:`SAMPLERS`). Callers offset ``seed`` by the trials
    already in the study, so a resumed run does not replay the first run's random proposals
    while staying reproducible."""
    sampler: optuna.samplers.BaseSampler = SAMPLERS[name].make(seed, constraints)
    return sampler


def make_pruner(name: str, objective: str, epochs: int, first_rung: int
                ) -> optuna.pruners.BasePruner:
    """The pruner ``name`` (one of :data:`PRUNERS`), sized for candidates of ``epochs`` epochs
    whose first comparison is at ``first_rung`` (both from the study plan). Optuna prunes
    single-objective studies only, so a Pareto study gets none here (MO-ASHA decides in the
    objective)."""
    pruner: optuna.pruners.BasePruner = PRUNERS[
        "none" if objective != "val_accuracy" else name](epochs, first_rung)
    return pruner
