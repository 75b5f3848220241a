"""Sampler and pruner registries: study-file names -> Optuna objects.

``SAMPLERS`` and ``PRUNERS`` are the one list of names: the config's ``study.sampler`` and
``study.pruner`` allow exactly these (in this order), and the factories below look them up.
Optuna itself is imported only when a sampler or pruner is made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig

ConstraintsFunc = Callable[["optuna.trial.FrozenTrial"], Sequence[float]]


@dataclass(frozen=True)
class SamplerKind:
    """``make(seed, constraints)``; ``multi_objective``: it can search a Pareto front."""

    make: Callable[[int, ConstraintsFunc | None], Any]
    multi_objective: bool = True


def _tpe(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

    return optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True, constraints_func=constraints
    )


def _nsga2(seed: int, constraints: ConstraintsFunc | None) -> Any:
    import optuna

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


def _asha(epochs: int) -> Any:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 8))


def _hyperband(epochs: int) -> Any:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)


def _median(epochs: int) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))


def _nop(epochs: int) -> Any:
    import optuna

    return optuna.pruners.NopPruner()


# Single-objective pruners by name; a Pareto search prunes with MO-ASHA (automl/policy/pruning.py)
# unless the pruner is "none".
PRUNERS: dict[str, Callable[[int], Any]] = {
    "asha": _asha,
    "hyperband": _hyperband,
    "median": _median,
    "none": _nop,
}


def make_sampler(
    cfg: StudyConfig, constraints: ConstraintsFunc | None, seed_offset: int = 0
) -> optuna.samplers.BaseSampler:
    """``seed_offset`` (trials already in the study) keeps a resumed run from replaying the
    first run's random proposals while staying reproducible."""
    sampler: optuna.samplers.BaseSampler = SAMPLERS[cfg.study.sampler].make(
        cfg.study.seed + seed_offset, constraints
    )
    return sampler


def make_pruner(cfg: StudyConfig, epochs: int | None = None) -> optuna.pruners.BasePruner:
    """The study's pruner, sized for candidates of ``epochs`` epochs (default
    ``trainer.epochs``; the search passes the adapted count). Optuna prunes single-objective
    studies only, so a Pareto study gets none here (MO-ASHA decides in the objective)."""
    name = "none" if cfg.study.objective != "val_accuracy" else cfg.study.pruner
    pruner: optuna.pruners.BasePruner = PRUNERS[name](epochs or cfg.trainer.epochs)
    return pruner
