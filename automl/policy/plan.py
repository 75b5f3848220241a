"""A study's plan: every number derived from the config and the data, computed once.

The search's decisions read sizes that depend on both the study file and the data set: how
many epochs a full-length candidate trains, the optimizer steps in an epoch, the first
successive-halving rung and the rungs after it, the batch sizes the hyperparameter space may
pick, the folds of cross-validation, the spaces' view of the input. :func:`make_plan` computes
them once, before the first trial; the controller sizes the pruner from the plan, the
objective trains and prunes by it, the cheap start samples with it. Nothing downstream
derives one of these numbers again, so none of them can drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.policy.budget import first_rung, hparam_options_for, steps_per_epoch, study_epochs
from automl.policy.crossval import cv_folds
from automl.policy.pruning import ETA, rung_epochs

if TYPE_CHECKING:
    from automl.config import StudyConfig


@dataclass(frozen=True)
class StudyPlan:
    """What a study's trials are sized by (see the module docstring)."""

    info: Any  # search_spaces.InputInfo: the input as the spaces see it
    hparam_options: dict[str, Any] = field(repr=False)  # batch sizes scaled to the data
    epochs: int  # a full-length candidate's epochs (search.adapt_epochs applied)
    steps_per_epoch: int  # optimizer steps in an epoch at the middle batch size
    first_rung: int  # the first comparison, for MO-ASHA and the ASHA pruner alike
    rungs: tuple[int, ...]  # MO-ASHA's rungs in a Pareto search; () when it does not prune
    cv_folds: int  # folds of the contenders' cross-validation (0: one holdout split)
    n_train: int
    n_val: int


def make_plan(cfg: StudyConfig, splits: Any, columns: tuple[Any, ...] | None = None,
              stats: dict[str, Any] | None = None) -> StudyPlan:
    """The plan of a study of ``cfg`` over ``splits`` (a ``trainer.DataSplits``); ``columns``:
    a coded table's ColumnSpecs (``PreparedData.column_specs``); ``stats``: the data's
    standardization (``PreparedData.preprocessing``), from which signal spaces read series
    as shipped."""
    from search_spaces.base import input_info

    n_train, n_val = len(splits.y_train), len(splits.y_val)
    options = hparam_options_for(cfg, n_train)
    steps = steps_per_epoch(n_train, options["batch_sizes"])
    epochs = study_epochs(cfg.trainer.epochs, n_train, options["batch_sizes"],
                          cfg.search.adapt_epochs)
    first = first_rung(epochs, steps)
    mo_asha = cfg.study.objective != "val_accuracy" and cfg.study.pruner != "none"
    rungs = tuple(rung_epochs(epochs, ETA, first)) if mo_asha else ()
    labels = np.concatenate([splits.y_train, splits.y_val])
    folds = cv_folds(n_train + n_val, labels) if cfg.search.cross_validate else 0
    return StudyPlan(info=input_info(splits, columns, stats), hparam_options=options,
                     epochs=epochs, steps_per_epoch=steps, first_rung=first, rungs=rungs,
                     cv_folds=folds, n_train=n_train, n_val=n_val)
