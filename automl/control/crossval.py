"""Cross-validation of the contenders on small data: trains the folds that
:mod:`automl.policy.crossval` decides on, and scores them (see there for the rules).

``train`` is :func:`trainer.train` unless a caller passes another function with its contract
(the objective passes its own, so tests can run a search's decisions without training).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from automl.policy.crossval import CVScore, affordable, fold_splits, is_contender
from trainer.types import DataSplits, EpochRecord, TrainConfig

if TYPE_CHECKING:
    from automl.storage import Storage

TrainFn = Callable[..., Any]  # trainer.train's signature


def default_train() -> TrainFn:
    """What trains a candidate unless a caller injects another function (tests do)."""
    from trainer import train

    return train


def cross_validate(arch: Any, loss: Any, splits: DataSplits, cfg: TrainConfig, k: int,
                   keep_going: Callable[[], bool], to_beat: float | None = None,
                   train: TrainFn | None = None, why: list[str] | None = None
                   ) -> CVScore | None:
    """Train ``k`` times on folds; None if ``keep_going()`` turned false (e.g. the deadline)
    before the last fold finished, since a partial score would not be comparable, or once even
    perfect remaining folds could not bring the mean up to ``to_beat`` (racing, as F-race
    does: a contender that cannot become the best is not worth its remaining folds). Why there
    is no score is appended to ``why`` when given (``deadline …`` or ``raced out …``)."""
    train = train or default_train()
    why = [] if why is None else why
    stopped: list[bool] = []

    def on_epoch(rec: EpochRecord) -> bool:
        if not keep_going():
            stopped.append(True)
        return bool(stopped)

    accs, losses = [], []
    for i, fold in enumerate(fold_splits(splits, k, cfg.seed)):
        if not keep_going():  # no fold starts past the deadline (its data fit comes first)
            why.append(f"deadline before fold {i + 1} of {k}")
            return None
        run_cfg = dataclasses.replace(cfg, seed=cfg.seed + 1000 * (i + 1), latency_repeats=0)
        result = train(arch, loss, fold, run_cfg, on_epoch=on_epoch)
        if stopped:
            why.append(f"deadline in fold {i + 1} of {k}")
            return None
        # The last epoch's weights, not the best held-out epoch's: choosing the epoch on the
        # held-out fold would score the fold with the data it was chosen on.
        last = result.history[-1]
        accs.append(last.val_accuracy)
        losses.append(last.val_loss if last.val_loss is not None else float("nan"))
        if to_beat is not None and (sum(accs) + (k - len(accs))) / k < to_beat:
            why.append(f"raced out after fold {len(accs)} of {k}: mean "
                       f"{statistics.fmean(accs):.3f}, could not reach {to_beat:.3f}")
            return None
    n = len(splits.y_train) + len(splits.y_val)
    return CVScore(statistics.fmean(accs), statistics.pstdev(accs), statistics.fmean(losses),
                   k, n)


def score_contender(storage: Storage, study: str, splits: DataSplits, val_accuracy: float,
                    arch: Any, loss: Any, cfg: TrainConfig, k: int,
                    keep_going: Callable[[], bool], on_start: Callable[[], None],
                    seconds_per_fold: float = 0.0, seconds_left: float = math.inf,
                    train: TrainFn | None = None, why: list[str] | None = None
                    ) -> CVScore | None:
    """The k-fold score of a candidate that finished with ``val_accuracy``, if it is a
    contender, its folds fit in ``seconds_left`` (see :func:`affordable`) and it can still
    become the best (see :func:`cross_validate`); else None, and a contender's reason for
    having no score appended to ``why`` when given (a candidate that is no contender has
    none: it never needed folds). ``train``: :func:`trainer.train` unless given."""
    why = [] if why is None else why
    from automl.storage.candidates import best_cv_accuracy, best_val_accuracy

    best = best_val_accuracy(storage, study)
    if not is_contender(val_accuracy, best, len(splits.y_val)):
        return None
    if not affordable(k, seconds_per_fold, seconds_left):
        why.append(f"no time: {k} folds of about {seconds_per_fold:.1f} s, "
                   f"{max(0.0, seconds_left):.1f} s left")
        return None
    on_start()
    best_cv = best_cv_accuracy(storage, study)
    n_dev = len(splits.y_train) + len(splits.y_val)
    # Within one sample of the best is a tie (see automl.policy.select): race to that.
    to_beat = None if best_cv is None else best_cv - 1.0 / n_dev
    return cross_validate(arch, loss, splits, cfg, k, keep_going, to_beat, train, why)
