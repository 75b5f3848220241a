"""Data sources -> deterministic train / validation / test splits, standardized on train only.

Sources: ``digits`` (scikit-learn's bundled 8x8 digits), ``PATH.npz`` (arrays ``x``, ``y`` and
optionally ``x_test``, ``y_test``), ``PATH.csv`` (label column ``label`` or the last column), and
``python:module:function`` returning ``(x, y)`` or ``(x, y, x_test, y_test)``.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError
from trainer.types import DataSplits


@dataclass(frozen=True)
class RawData:
    x: np.ndarray
    y: np.ndarray  # int64 class indices
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: list[str]  # original label of each class index
    source: str


@dataclass(frozen=True)
class PreparedData:
    """What a search trains on, plus what export needs to reproduce the preprocessing."""

    splits: DataSplits
    classes: list[str]
    preprocessing: dict[str, Any]  # {"mean": [...], "std": [...], "axis": "feature"|"channel"}
    data_hash: str  # sha256 of the raw arrays, so a bundle can say what it was trained on
    source: str


def load_source(source: str) -> RawData:
    """Read a data source; every failure is a one-line DataError naming the file or array."""
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        # Images with one channel: the built-in source knows what its data is.
        return _finish(d.images[:, None].astype(np.float32), d.target, None, None, source)
    if source.startswith("python:"):
        return _from_callable(source)
    path = Path(source)
    if path.suffix == ".npz":
        return _from_npz(path, source)
    if path.suffix == ".csv":
        return _from_csv(path, source)
    raise DataError(
        f"data.source {source!r}: expected 'digits', a .npz or .csv file, "
        "or python:module:function"
    )


def _from_npz(path: Path, source: str) -> RawData:
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile / numpy raise many types for a corrupt file
        raise DataError(f"{path}: cannot read .npz file ({type(exc).__name__}: {exc})") from None
    for name in ("x", "y"):
        if name not in arrays:
            raise DataError(f"{path}: missing array {name!r}; found {sorted(arrays) or 'none'}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: 'x_test' and 'y_test' must be given together")
    return _finish(arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"), source)


def _from_csv(path: Path, source: str) -> RawData:
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    import csv

    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read CSV file ({exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: expected a header row and data rows")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    label_col = header.index("label") if "label" in header else len(header) - 1
    feats, labels = [], []
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}:{lineno}: expected {len(header)} columns, got {len(row)}")
        labels.append(row[label_col].strip())
        try:
            feats.append([float(v) for i, v in enumerate(row) if i != label_col])
        except ValueError:
            raise DataError(f"{path}:{lineno}: non-numeric feature value") from None
    return _finish(np.asarray(feats, dtype=np.float32), np.asarray(labels), None, None, source)


def _from_callable(source: str) -> RawData:
    _, _, target = source.partition(":")
    module_name, _, func_name = target.partition(":")
    if not module_name or not func_name:
        raise DataError(f"data.source {source!r}: expected python:module:function")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"data.source {source!r}: cannot import ({exc})") from None
    out = func()
    if not isinstance(out, tuple) or len(out) not in (2, 4):
        raise DataError(f"data.source {source!r}: must return (x, y) or (x, y, x_test, y_test)")
    x, y, x_test, y_test = out if len(out) == 4 else (*out, None, None)
    return _finish(x, y, x_test, y_test, source)


def _labels_to_index(
    y: np.ndarray, name: str, classes: list[Any] | None
) -> tuple[np.ndarray, list]:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{name}: labels must be 1-D, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{name}: labels must be integers or strings, got non-integer floats")
        y = y.astype(np.int64)
    if classes is None:
        classes = sorted(np.unique(y).tolist())
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.asarray([lookup[v] for v in y.tolist()], dtype=np.int64), classes
    except KeyError as exc:
        raise DataError(
            f"{name}: label {exc.args[0]!r} does not occur in the training labels"
        ) from None


def _check_x(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{name}: features must be numeric") from None
    if arr.ndim not in (2, 3, 4):
        raise DataError(
            f"{name}: expected shape (N, D), (N, C, L), (N, H, W) or (N, C, H, W), "
            f"got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name}: contains NaN or inf values")
    # (N, A, B) stays as it is: A channels of length B or an A x B image; the search decides.
    return arr


def _finish(x: Any, y: Any, x_test: Any, y_test: Any, source: str) -> RawData:
    x = _check_x(x, f"{source}: x")
    y_idx, classes = _labels_to_index(y, f"{source}: y", None)
    if len(x) != len(y_idx):
        raise DataError(f"{source}: x has {len(x)} samples but y has {len(y_idx)}")
    if len(classes) < 2:
        raise DataError(f"{source}: y has a single class ({classes[0]!r}); need at least 2")
    xt = yt = None
    if x_test is not None:
        xt = _check_x(x_test, f"{source}: x_test")
        yt, _ = _labels_to_index(y_test, f"{source}: y_test", classes)
        if xt.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{source}: x_test samples have shape {xt.shape[1:]}, x has {x.shape[1:]}"
            )
        if len(xt) != len(yt):
            raise DataError(f"{source}: x_test has {len(xt)} samples but y_test has {len(yt)}")
    return RawData(x, y_idx, xt, yt, [str(c) for c in classes], source)


def _stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, taken) with ``fraction`` of every class taken (at least one each)."""
    rest, taken = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = max(1, int(round(fraction * len(idx))))
        if k >= len(idx):
            raise DataError(
                f"class {int(c)} has {len(idx)} samples: too few to split off {fraction:.0%}"
            )
        taken.append(idx[:k])
        rest.append(idx[k:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(taken))


def prepare(
    raw: RawData, val_fraction: float, test_fraction: float, seed: int, standardize: bool = True
) -> PreparedData:
    """Split deterministically from ``seed`` and standardize with train statistics only."""
    rng = np.random.default_rng(seed)
    x, y = raw.x, raw.y
    if raw.x_test is not None:
        x_test, y_test = raw.x_test, raw.y_test
    else:
        if test_fraction <= 0:
            raise DataError("data.test_fraction: must be > 0 when the source has no x_test")
        keep, test = _stratified_split(y, test_fraction, rng)
        x, y, x_test, y_test = x[keep], y[keep], x[test], y[test]
    # Validation fraction is of the whole data set, so 0.15 / 0.15 means 70 / 15 / 15.
    val_share = val_fraction / max(1e-9, 1.0 - (0 if raw.x_test is not None else test_fraction))
    train_idx, val_idx = _stratified_split(y, min(val_share, 0.9), rng)
    x_train, y_train, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    axis = "feature" if x.ndim == 2 else "channel"
    reduce = (0,) if axis == "feature" else tuple(i for i in range(x.ndim) if i != 1)
    if standardize:
        mean = x_train.mean(axis=reduce)
        std = np.maximum(x_train.std(axis=reduce), 1e-6)
    else:
        mean = np.zeros(x.shape[1], np.float32)
        std = np.ones(x.shape[1], np.float32)
    stats = {"axis": axis, "mean": mean.tolist(), "std": std.tolist()}

    splits = DataSplits(
        x_train=apply_preprocessing(x_train, stats),
        y_train=y_train.astype(np.int64),
        x_val=apply_preprocessing(x_val, stats),
        y_val=y_val.astype(np.int64),
        x_test=apply_preprocessing(x_test, stats),
        y_test=np.asarray(y_test, dtype=np.int64),
        num_classes=len(raw.classes),
    )
    return PreparedData(splits, raw.classes, stats, data_hash(raw), raw.source)


def apply_preprocessing(x: np.ndarray, stats: dict[str, Any]) -> np.ndarray:
    """Standardize ``x`` with stored statistics (the same function serves export and predict)."""
    x = np.asarray(x, dtype=np.float32)
    mean = np.asarray(stats["mean"], dtype=np.float32)
    std = np.asarray(stats["std"], dtype=np.float32)
    if stats["axis"] == "channel":
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean, std = mean.reshape(shape), std.reshape(shape)
    return ((x - mean) / std).astype(np.float32)


def data_hash(raw: RawData) -> str:
    h = hashlib.sha256()
    for arr in (raw.x, raw.y, raw.x_test, raw.y_test):
        if arr is not None:
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def load_data(
    source: str, val_fraction: float, test_fraction: float, seed: int, standardize: bool = True
) -> PreparedData:
    return prepare(load_source(source), val_fraction, test_fraction, seed, standardize)
