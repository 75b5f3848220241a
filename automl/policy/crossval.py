"""Small data is not noise: k-fold cross-validation of the contenders.

With a few hundred labelled samples a validation split is a few dozen, and the candidate with
the best split accuracy is mostly the luckiest. So when the training and validation splits
together hold at most ``CV_MAX_SAMPLES`` samples, a candidate that finishes within one
validation sample of the best split accuracy of those before it (a *contender*) is also
trained ``k`` times on stratified folds of train + validation and scored on the held-out
folds, as AutoGluon's bagging does. ``best`` then means the best cross-validated accuracy among
the contenders, and the leaderboard says which figure is which (``validation``: ``holdout`` or
``5-fold CV, n=…``). Folds that the deadline would cut are not started (:func:`affordable`).
The test split is never touched. The rules are here; :mod:`automl.control.crossval` trains
the folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.types import DataSplits

CV_MAX_SAMPLES = 1000
CV_FOLDS = 5


@dataclass(frozen=True)
class CVScore:
    accuracy: float  # mean held-out accuracy over the folds
    std: float
    loss: float  # mean held-out cross-entropy: reported, never used to choose (see select)
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
    """``k`` stratified folds over train + validation; each fold's held-out part is its
    validation split, and its test split is empty (a fold's test figure would be the same
    held-out part scored a second time, and nothing reads it)."""
    from sklearn.model_selection import StratifiedKFold

    x = np.concatenate([splits.x_train, splits.x_val])
    y = np.concatenate([splits.y_train, splits.y_val])
    out = []
    for train_idx, held_idx in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        out.append(DataSplits(x[train_idx], y[train_idx], x[held_idx], y[held_idx],
                              x[:0], y[:0], splits.num_classes))
    return out


def affordable(k: int, seconds_per_fold: float, seconds_left: float) -> bool:
    """Whether ``k`` folds, each about as long as the candidate's own training, fit in the time
    left: folds the deadline would cut give no score, and their time is better spent on new
    candidates (one expensive network's folds once took 80 s of a 120 s budget)."""
    return k * seconds_per_fold <= seconds_left
