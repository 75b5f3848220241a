"""Small-data cross-validation: when it applies, the folds, and a real k-fold run."""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.control.crossval import cross_validate, score_contender
from automl.policy.crossval import CV_FOLDS, CV_MAX_SAMPLES, cv_folds, fold_splits, is_contender
from automl.storage import Storage
from search_spaces import MLPSpec, loss_from_dict
from trainer.types import DataSplits, TrainConfig


def _splits(n_train: int = 40, n_val: int = 10, classes: int = 2) -> DataSplits:
    rng = np.random.default_rng(0)
    y_tr = np.arange(n_train) % classes
    y_va = np.arange(n_val) % classes
    # Separable: the class shifts the mean of every feature.
    x_tr = rng.normal(size=(n_train, 6)).astype(np.float32) + 2 * y_tr[:, None]
    x_va = rng.normal(size=(n_val, 6)).astype(np.float32) + 2 * y_va[:, None]
    return DataSplits(x_tr, y_tr, x_va, y_va, x_va, y_va, classes)


def test_only_small_data_is_cross_validated() -> None:
    y = np.arange(200) % 4
    assert cv_folds(200, y) == CV_FOLDS
    assert cv_folds(CV_MAX_SAMPLES + 1, np.arange(CV_MAX_SAMPLES + 1) % 4) == 0
    assert cv_folds(7, np.array([0, 0, 0, 0, 0, 1, 1])) == 2  # at most the smallest class
    assert cv_folds(5, np.array([0, 0, 0, 0, 1])) == 0  # a class of one cannot be folded


def test_contenders_are_within_one_validation_sample_of_the_best() -> None:
    assert not is_contender(0.9, None, 10)  # the first candidate has no one to beat
    assert is_contender(0.9, 1.0, 10)
    assert not is_contender(0.8, 1.0, 10)
    assert is_contender(1.0, 0.9, 10)


def test_folds_are_stratified_and_cover_train_and_validation_once() -> None:
    splits = _splits(40, 10)
    folds = fold_splits(splits, 5, seed=0)
    assert len(folds) == 5
    held = np.concatenate([f.x_val for f in folds])
    every = np.concatenate([splits.x_train, splits.x_val])
    assert len(held) == len(every)
    assert {tuple(r) for r in held.tolist()} == {tuple(r) for r in every.tolist()}
    for f in folds:
        assert len(f.y_train) + len(f.y_val) == 50
        assert np.bincount(f.y_val).tolist() == [5, 5]  # stratified
        assert len(f.x_test) == len(f.y_test) == 0  # not scored a second time as a test split


def test_cross_validate_trains_every_fold_and_stops_at_the_deadline() -> None:
    spec = MLPSpec(input_shape=(6,), num_classes=2, hidden=(16,), activation="relu",
                   norm="none", dropout=0.0)
    loss = {"kind": "ce"}
    cfg = TrainConfig(epochs=5, batch_size=8, lr=1e-2, num_threads=1, latency_repeats=0)
    score = cross_validate(spec, loss_from_dict(loss), _splits(), cfg, 3, keep_going=lambda: True)
    assert score is not None and score.folds == 3 and score.samples == 50
    assert score.accuracy > 0.8  # the classes are far apart
    assert 0.0 <= score.std < 0.2
    calls, why = iter([True, True, False]), []
    assert cross_validate(spec, loss_from_dict(loss), _splits(), cfg, 3,
                          keep_going=lambda: next(calls, False), why=why) is None
    assert why == ["deadline in fold 1 of 3"]  # checked before the fold and after its 1st epoch


def test_a_contender_that_cannot_become_the_best_stops_early() -> None:
    spec = MLPSpec(input_shape=(6,), num_classes=2, hidden=(16,), activation="relu",
                   norm="none", dropout=0.0)
    cfg = TrainConfig(epochs=5, batch_size=8, lr=1e-2, num_threads=1, latency_repeats=0)
    epochs_run = []

    def counting() -> bool:
        epochs_run.append(1)
        return True

    # Even three perfect folds cannot lift the mean above 1.0: raced out after the first.
    why: list[str] = []
    assert cross_validate(spec, loss_from_dict({"kind": "ce"}), _splits(), cfg, 3,
                          keep_going=counting, to_beat=1.01, why=why) is None
    assert len(epochs_run) == 1 + 5  # a check before the one fold, then one per epoch
    assert len(why) == 1 and why[0].startswith("raced out after fold 1 of 3: mean ")
    assert why[0].endswith("could not reach 1.010")
    full = cross_validate(spec, loss_from_dict({"kind": "ce"}), _splits(), cfg, 3,
                          keep_going=lambda: True, to_beat=0.0)
    assert full is not None and full.folds == 3


def test_a_contender_is_cross_validated_only_if_its_folds_fit_in_the_time_left(
        storage_url: str, tmp_path) -> None:  # noqa: ANN001
    st = Storage(storage_url, artifacts=str(tmp_path))
    study = st.create_study("cv", directions=["maximize", "minimize"])
    t = study.ask()
    st.update_trial("cv", t.number, state="COMPLETE", val_accuracy=0.9)
    study.tell(t, [0.9, 1.0])
    spec = MLPSpec(input_shape=(6,), num_classes=2, hidden=(8,), activation="relu",
                   norm="none", dropout=0.0)
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, num_threads=1, latency_repeats=0)
    started: list[int] = []

    why: list[str] = []

    def score(seconds_left: float, val_accuracy: float = 0.9):  # noqa: ANN202
        return score_contender(st, "cv", _splits(), val_accuracy, spec,
                               loss_from_dict({"kind": "ce"}), cfg, 3, lambda: True,
                               lambda: started.append(1), seconds_per_fold=10.0,
                               seconds_left=seconds_left, why=why)

    assert score(29.0) is None and not started  # 3 folds of ~10 s do not fit in 29 s
    assert why == ["no time: 3 folds of about 10.0 s, 29.0 s left"]
    assert score(1000.0, val_accuracy=0.5) is None and not started  # not a contender
    assert len(why) == 1  # ... which needs no folds, so it has no reason to give
    result = score(30.0)
    assert started == [1] and result is not None and result.folds == 3


def test_no_fold_starts_once_the_time_is_up() -> None:
    spec = MLPSpec(input_shape=(6,), num_classes=2, hidden=(16,), activation="relu",
                   norm="none", dropout=0.0)
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, num_threads=1, latency_repeats=0)
    trained: list[int] = []

    def train(*args: Any, **kw: Any) -> Any:
        trained.append(1)
        raise AssertionError("a fold was trained past the deadline")

    # The deadline passed between the candidate's training and its folds: none is trained
    # (its data fit, e.g. rocket's features, would come before its first epoch's check).
    why: list[str] = []
    assert cross_validate(spec, loss_from_dict({"kind": "ce"}), _splits(), cfg, 3,
                          keep_going=lambda: False, train=train, why=why) is None
    assert trained == [] and why == ["deadline before fold 1 of 3"]
