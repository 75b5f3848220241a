"""Small data is not noise: k-fold cross-validation of the contenders.

With a few hundred labelled samples a validation split is a few dozen, and the candidate with
the best split accuracy is mostly the luckiest. So when the training and validation splits
together hold at most ``CV_MAX_SAMPLES`` samples, a candidate that finishes within one
validation sample of the best split accuracy of those before it (a *contender*) is also
trained ``k`` times on stratified folds of train + validation and scored on the held-out
folds, as AutoGluon's bagging does. ``best`` then means the best cross-validated accuracy among
the contenders, and the leaderboard says which figure is which (``validation``: ``holdout`` or
``5-fold CV, n=…``). Folds that the deadline would cut are not started (:func:`affordable`).
The test split is never touched.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trainer.types import DataSplits, EpochRecord, TrainConfig

if TYPE_CHECKING:
    from automl.storage import Storage

CV_MAX_SAMPLES = 1000
CV_FOLDS = 5


@dataclass(frozen=True)
class CVScore:
    accuracy: float  # mean held-out accuracy over the folds
    std: float
    loss: float  # mean held-out cross-entropy: breaks ties in accuracy, which are common
    folds: int
    samples: int  # train + validation samples the folds were cut from


def cv_folds(n_samples: int, y: np.ndarray) -> int:
    """Folds to use (0: data large enough for one split): at most ``CV_FOLDS``, at most the
    size of the smallest class, at least 2."""
    if n_samples > CV_MAX_SAMPLES:
        return 0
    smallest = int(np.bincount(y).min()) if len(y) else 0
    k = min(CV_FOLDS, smallest)
    return k if k >= 2 else 0


def is_contender(val_accuracy: float, best_so_far: float | None, n_val: int) -> bool:
    """Within one validation sample of the best split accuracy of the other candidates; the
    first candidate to finish has no one to be compared with and is no contender yet."""
    return best_so_far is not None and val_accuracy >= best_so_far - 1.0 / max(1, n_val) - 1e-12


def fold_splits(splits: DataSplits, k: int, seed: int) -> list[DataSplits]:
    """``k`` stratified folds over train + validation; each fold's held-out part is both its
    validation and its (unused) test split."""
    from sklearn.model_selection import StratifiedKFold

    x = np.concatenate([splits.x_train, splits.x_val])
    y = np.concatenate([splits.y_train, splits.y_val])
    out = []
    for train_idx, held_idx in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        out.append(DataSplits(x[train_idx], y[train_idx], x[held_idx], y[held_idx],
                              x[held_idx], y[held_idx], splits.num_classes))
    return out


def cross_validate(arch: Any, loss: Any, splits: DataSplits, cfg: TrainConfig, k: int,
                   keep_going: Callable[[], bool], to_beat: float | None = None
                   ) -> CVScore | None:
    """Train ``k`` times on folds; None if ``keep_going()`` turned false (e.g. the deadline)
    before the last fold finished, since a partial score would not be comparable, or once even
    perfect remaining folds could not bring the mean up to ``to_beat`` (racing, as F-race
    does: a contender that cannot become the best is not worth its remaining folds)."""
    from trainer import train

    stopped: list[bool] = []

    def on_epoch(rec: EpochRecord) -> bool:
        if not keep_going():
            stopped.append(True)
        return bool(stopped)

    accs, losses = [], []
    for i, fold in enumerate(fold_splits(splits, k, cfg.seed)):
        run_cfg = dataclasses.replace(cfg, seed=cfg.seed + 1000 * (i + 1), latency_repeats=0)
        result = train(arch, loss, fold, run_cfg, on_epoch=on_epoch)
        if stopped:
            return None
        # The last epoch's weights, not the best held-out epoch's: choosing the epoch on the
        # held-out fold would score the fold with the data it was chosen on.
        last = result.history[-1]
        accs.append(last.val_accuracy)
        losses.append(last.val_loss if last.val_loss is not None else float("nan"))
        if to_beat is not None and (sum(accs) + (k - len(accs))) / k < to_beat:
            return None
    n = len(splits.y_train) + len(splits.y_val)
    return CVScore(statistics.fmean(accs), statistics.pstdev(accs), statistics.fmean(losses),
                   k, n)


def affordable(k: int, seconds_per_fold: float, seconds_left: float) -> bool:
    """Whether ``k`` folds, each about as long as the candidate's own training, fit in the time
    left: folds the deadline would cut give no score, and their time is better spent on new
    candidates (one expensive network's folds once took 80 s of a 120 s budget)."""
    return k * seconds_per_fold <= seconds_left


def score_contender(storage: Storage, study: str, splits: DataSplits, val_accuracy: float,
                    arch: Any, loss: Any, cfg: TrainConfig, k: int,
                    keep_going: Callable[[], bool], on_start: Callable[[], None],
                    seconds_per_fold: float = 0.0, seconds_left: float = math.inf
                    ) -> CVScore | None:
    """The k-fold score of a candidate that finished with ``val_accuracy``, if it is a
    contender, its folds fit in ``seconds_left`` (see :func:`affordable`) and it can still
    become the best (see :func:`cross_validate`); else None."""
    from automl.storage.candidates import best_cv_accuracy, best_val_accuracy

    best = best_val_accuracy(storage, study)
    if not is_contender(val_accuracy, best, len(splits.y_val)):
        return None
    if not affordable(k, seconds_per_fold, seconds_left):
        return None
    on_start()
    best_cv = best_cv_accuracy(storage, study)
    n_dev = len(splits.y_train) + len(splits.y_val)
    # Within one sample of the best is a tie (see automl.policy.select): race to that.
    to_beat = None if best_cv is None else best_cv - 1.0 / n_dev
    return cross_validate(arch, loss, splits, cfg, k, keep_going, to_beat)
