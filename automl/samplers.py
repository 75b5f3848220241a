"""Sampler and pruner factories (study-file names -> Optuna objects)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig

ConstraintsFunc = Callable[["optuna.trial.FrozenTrial"], Sequence[float]]


def make_sampler(
    cfg: StudyConfig, constraints: ConstraintsFunc | None, seed_offset: int = 0
) -> optuna.samplers.BaseSampler:
    """``seed_offset`` (trials already in the study) keeps a resumed run from replaying the
    first run's random proposals while staying reproducible."""
    import optuna

    seed = cfg.study.seed + seed_offset
    name = cfg.study.sampler
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constraints_func=constraints
        )
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        # CMA-ES handles the numeric parameters; categorical ones (ops, activations) fall back
        # to an independent sampler, which is the documented Optuna behaviour.
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise ValueError(f"unknown sampler {name!r}")  # config validation makes this unreachable


def make_pruner(cfg: StudyConfig) -> optuna.pruners.BasePruner:
    import optuna

    epochs = cfg.trainer.epochs
    name = cfg.study.pruner
    if cfg.study.objective != "val_accuracy" or name == "none":
        return optuna.pruners.NopPruner()  # Optuna prunes single-objective studies only
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 8))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
    raise ValueError(f"unknown pruner {name!r}")
