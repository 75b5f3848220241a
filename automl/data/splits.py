"""Raw data -> deterministic train / validation / test splits, standardized on train only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.data.sources import RawData, load_source
from automl.data.table import TableOptions, needs_encoder, train_levels
from automl.errors import DataError
from trainer.types import DataSplits


@dataclass(frozen=True)
class PreparedData:
    """What a search trains on, plus what export needs to reproduce the preprocessing."""

    splits: DataSplits
    classes: list[str]
    preprocessing: dict[str, Any]  # {"mean": [...], "std": [...], "axis": "feature"|"channel"}
    data_hash: str  # sha256 of the raw arrays, so a bundle can say what it was trained on
    source: str
    notes: tuple[str, ...] = ()  # what the split did that a user should hear of
    # A coded table's schema (automl.data.table), levels cut to the training split's: the
    # network reads it through a table encoder; None for every other source (a table of plain
    # numbers keeps its schema in preprocessing["table"] only, for prediction by column name).
    columns: list[dict[str, Any]] | None = None

    def column_specs(self) -> tuple[Any, ...] | None:
        """The network's view of a coded table's columns (None for other data)."""
        if self.columns is None:
            return None
        from automl.data.table import column_specs

        s = self.splits
        return column_specs(self.columns, np.concatenate([s.x_train, s.x_val, s.x_test]))

    def by_class(self, values: Sequence[Any] | None) -> dict[str, Any] | None:
        """``values`` (one per class, in class order) keyed by class name."""
        return None if values is None else dict(zip(self.classes, values, strict=True))


def _stratified_split(
    y: np.ndarray, fraction: float, raw: RawData, rng: np.random.Generator, part: str,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, taken) with ``fraction`` of every class taken (at least one each), except
    that a class is never emptied: one with a single sample stays wholly in ``rest`` (the
    training side) and a note naming it and ``part`` says so."""
    rest, taken = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(max(1, int(round(fraction * len(idx)))), len(idx) - 1)
        if k == 0:
            notes.append(f"class {raw.classes[int(c)]!r} has 1 sample left: kept for training, "
                         f"none in the {part} split")
        taken.append(idx[:k])
        rest.append(idx[k:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(taken))


def prepare(
    raw: RawData, val_fraction: float, test_fraction: float, seed: int, standardize: bool = True
) -> PreparedData:
    """Split deterministically from ``seed`` and standardize with train statistics only."""
    rng, notes = np.random.default_rng(seed), list[str]()
    x, y = raw.x, raw.y
    if raw.x_test is not None:
        x_test, y_test = raw.x_test, raw.y_test
    else:
        if test_fraction <= 0:
            raise DataError("data.test_fraction: must be > 0 when the source has no x_test")
        keep, test = _stratified_split(y, test_fraction, raw, rng, "test", notes)
        if not len(test):
            raise DataError(f"{raw.source}: too few samples to split off a test set "
                            f"({len(y)} in all)")
        x, y, x_test, y_test = x[keep], y[keep], x[test], y[test]
    # Validation fraction is of the whole data set, so 0.15 / 0.15 means 70 / 15 / 15.
    val_share = val_fraction / max(1e-9, 1.0 - (0 if raw.x_test is not None else test_fraction))
    train_idx, val_idx = _stratified_split(y, min(val_share, 0.9), raw, rng, "validation", notes)
    if not len(val_idx):
        raise DataError(f"{raw.source}: too few samples to split off a validation set "
                        f"({len(y)} left after the test split)")
    x_train, y_train, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    columns = raw.columns
    coded = columns is not None and needs_encoder(columns, raw.x)
    if coded:  # copies: the split's fancy indexing copied the raw rows
        assert columns is not None
        x_test = np.array(x_test, dtype=np.float32)
        columns = train_levels(columns, x_train, x_val, x_test)
    axis = "feature" if x.ndim == 2 else "channel"
    with np.errstate(over="ignore", invalid="ignore"):  # refused below, not warned about
        if coded:
            assert columns is not None
            mean, std = _table_stats(columns, x_train, standardize)
        else:
            mean, std = _stats(x_train, axis, standardize)
        stats: dict[str, Any] = {"axis": axis, "mean": mean.tolist(), "std": std.tolist()}
        if columns is not None:  # how a table's raw rows become the ones the network reads
            stats["table"] = {"columns": columns, "label": raw.label or ""}
        splits = DataSplits(
            x_train=apply_preprocessing(x_train, stats),
            y_train=y_train.astype(np.int64),
            x_val=apply_preprocessing(x_val, stats),
            y_val=y_val.astype(np.int64),
            x_test=apply_preprocessing(x_test, stats),
            y_test=np.asarray(y_test, dtype=np.int64),
            num_classes=len(raw.classes),
        )
    # A coded table's NaNs are its missing values, read by the model's encoder.
    finite = (lambda a: ~np.isinf(a)) if coded else np.isfinite
    if not all(finite(a).all() for a in (mean, std, splits.x_train, splits.x_val,
                                         splits.x_test)):
        raise DataError(f"{raw.source}: x: values too large to standardize in float32; "
                        "rescale them")
    return PreparedData(splits, raw.classes, stats, data_hash(raw), raw.source, tuple(notes),
                        columns if coded else None)


def _stats(x_train: np.ndarray, axis: str, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature (flat samples) or per channel (any other), over the training
    split; 0 and 1 without standardization."""
    if not standardize:
        return np.zeros(x_train.shape[1], np.float32), np.ones(x_train.shape[1], np.float32)
    reduce = (0,) if axis == "feature" else tuple(i for i in range(x_train.ndim) if i != 1)
    return x_train.mean(axis=reduce), np.maximum(x_train.std(axis=reduce), 1e-6)


def _table_stats(columns: list[dict[str, Any]], x_train: np.ndarray, standardize: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per column: a numeric column's mean and std over the training split's present values
    (the model imputes a missing one at the mean), a categorical column's 0 and 1 (its codes
    pass through unchanged)."""
    mean = np.zeros(len(columns), np.float32)
    std = np.ones(len(columns), np.float32)
    for j, c in enumerate(columns):
        if c["kind"] != "numeric" or not standardize:
            continue
        present = x_train[:, j][~np.isnan(x_train[:, j])]
        if len(present):
            mean[j], std[j] = present.mean(), max(float(present.std()), 1e-6)
    return mean, std


def apply_preprocessing(x: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """Standardize ``x`` with stored statistics (the same function serves export and predict)."""
    x = np.asarray(x, dtype=np.float32)
    mean = np.asarray(stats["mean"], dtype=np.float32)
    std = np.asarray(stats["std"], dtype=np.float32)
    if stats["axis"] == "channel":
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean, std = mean.reshape(shape), std.reshape(shape)
    with np.errstate(over="ignore", invalid="ignore"):  # callers refuse what is not finite
        return ((x - mean) / std).astype(np.float32)


def data_hash(raw: RawData) -> str:
    h = hashlib.sha256()
    for arr in (raw.x, raw.y, raw.x_test, raw.y_test):
        if arr is not None:
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def load_data(
    source: str, val_fraction: float, test_fraction: float, seed: int, standardize: bool = True,
    table: TableOptions | None = None,
) -> PreparedData:
    return prepare(load_source(source, table), val_fraction, test_fraction, seed, standardize)
