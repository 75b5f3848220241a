"""Data sources -> :class:`RawData`: ``digits`` (scikit-learn's bundled 8x8 digits), ``PATH.npz``
(arrays ``x``, ``y`` and optionally ``x_test``, ``y_test``), ``PATH.csv`` or ``PATH.parquet`` (a
table with a header: :mod:`automl.data.table`), and ``python:module:function`` returning
``(x, y)`` or ``(x, y, x_test, y_test)``. Every failure is a one-line
:class:`~automl.errors.DataError`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from automl._arrays import check_x, labels_to_index
from automl.data.table import TABLE_SUFFIXES, TableOptions, read_table
from automl.errors import DataError, no_file


@dataclass(frozen=True)
class RawData:
    x: np.ndarray
    y: np.ndarray  # int64 class indices
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: list[str]  # original label of each class index
    source: str
    # A table's schema (automl.data.table): x holds its columns as coded rows (codes and NaNs
    # when a column is categorical or a value missing: the model's encoder reads them); None
    # for every other source.
    columns: list[dict[str, Any]] | None = None
    label: str | None = None  # a table's label column


def load_source(source: str, table: TableOptions | None = None) -> RawData:
    """Read a data source; every failure is a one-line DataError naming the file or array."""
    if source == "digits":
        images, target = digits()
        # Images with one channel: the built-in source knows what its data is.
        return _finish(images[:, None].astype(np.float32), target, None, None, source)
    if source.startswith("python:"):
        return _from_callable(source)
    path = Path(source)
    if path.suffix == ".npz":
        return _from_npz(path, source)
    if path.suffix in TABLE_SUFFIXES:
        return _from_table(path, source, table)
    raise DataError(
        f"data.source {source!r}: expected 'digits', a .npz, .csv or .parquet file, "
        "or python:module:function"
    )


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: (1797, 8, 8) float images and int labels, read from the file
    scikit-learn ships, as ``sklearn.datasets.load_digits`` reads it, without importing
    scikit-learn: its import (a second or more) would be most of a small search's start-up."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0]) / "datasets" / "data" / "digits.csv.gz" if folders else None
    if path is None or not path.is_file():
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DataError("data.source 'digits': needs scikit-learn, which ships the "
                            "digits (pip install scikit-learn)") from None
        d = load_digits()
        return d.images, d.target
    with gzip.open(path) as fh:
        data = np.loadtxt(fh, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


_NPZ_ARRAYS = ("x", "y", "x_test", "y_test")


def _from_npz(path: Path, source: str) -> RawData:
    if not path.is_file():
        raise DataError(no_file(path))
    arrays: dict[str, np.ndarray] = {}
    name = None
    try:
        # allow_pickle=False: a data file must never run code; object arrays are refused.
        with np.load(path, allow_pickle=False) as z:
            found = sorted(z.files)
            for name in (n for n in _NPZ_ARRAYS if n in found):
                arrays[name] = z[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc) and name is None:
            raise DataError(f"{path}: cannot read .npz file (not a numpy archive; pickled "
                            "data is never loaded)") from None
        if "allow_pickle" in str(exc):
            raise DataError(f"{path}: array {name!r} holds pickled Python objects, which are "
                            "never loaded; save numeric arrays") from None
        raise DataError(f"{path}: cannot read .npz file (ValueError: {exc})") from None
    except Exception as exc:  # zipfile / numpy raise many types for a corrupt file
        raise DataError(f"{path}: cannot read .npz file ({type(exc).__name__}: {exc})") from None
    for name in ("x", "y"):
        if name not in arrays:
            raise DataError(f"{path}: missing array {name!r}; found {found or 'none'}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: 'x_test' and 'y_test' must be given together")
    return _finish(arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"), source)


def _from_table(path: Path, source: str, options: TableOptions | None) -> RawData:
    table = read_table(path, options)
    # A missing value is a NaN in the coded rows, for the model's table encoder to read.
    raw = _finish(table.x, _csv_labels(table.labels), None, None, source, missing_ok=True)
    return replace(raw, columns=table.columns, label=table.label)


def _csv_labels(labels: list[str]) -> np.ndarray:
    """Integer labels written as text ("2", "10") sort as numbers, not as strings."""
    try:
        ints = [int(v) for v in labels]
    except ValueError:
        return np.asarray(labels)
    if all(str(i) == v for i, v in zip(ints, labels, strict=True)) and all(
        abs(i) < 2**63 for i in ints
    ):
        return np.asarray(ints, dtype=np.int64)
    return np.asarray(labels)  # "01" and "1" stay two different classes


def _from_callable(source: str) -> RawData:
    _, _, target = source.partition(":")
    module_name, _, func_name = target.partition(":")
    if not module_name or not func_name:
        raise DataError(f"data.source {source!r}: expected python:module:function")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"data.source {source!r}: cannot import ({exc})") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's module failed to import: SyntaxError, sys.exit...
        raise DataError(f"data.source {source!r}: importing {module_name!r} failed "
                        f"({_describe(exc)})") from None
    if not callable(func):
        raise DataError(f"data.source {source!r}: {func_name!r} is not a function")
    try:
        out = func()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit included: a loader must not end the search
        raise DataError(f"data.source {source!r}: the loader failed ({_describe(exc)})"
                        ) from None
    if not isinstance(out, tuple | list) or len(out) not in (2, 4):
        raise DataError(f"data.source {source!r}: must return (x, y) or (x, y, x_test, y_test)")
    x, y, x_test, y_test = out if len(out) == 4 else (*out, None, None)
    if (x_test is None) != (y_test is None):
        raise DataError(f"data.source {source!r}: x_test and y_test must be given together")
    return _finish(x, y, x_test, y_test, source)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _finish(x: Any, y: Any, x_test: Any, y_test: Any, source: str,
            missing_ok: bool = False) -> RawData:
    x = check_x(x, f"{source}: x", missing_ok)
    y_idx, classes = labels_to_index(y, f"{source}: y", None)
    if len(x) != len(y_idx):
        raise DataError(f"{source}: x has {len(x)} samples but y has {len(y_idx)}")
    if len(classes) < 2:
        raise DataError(f"{source}: y has a single class ({classes[0]!r}); need at least 2")
    xt = yt = None
    if x_test is not None:
        xt = check_x(x_test, f"{source}: x_test")
        yt, _ = labels_to_index(y_test, f"{source}: y_test", classes)
        if xt.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{source}: x_test samples have shape {xt.shape[1:]}, x has {x.shape[1:]}"
            )
        if len(xt) != len(yt):
            raise DataError(f"{source}: x_test has {len(xt)} samples but y_test has {len(yt)}")
    return RawData(x, y_idx, xt, yt, [str(c) for c in classes], source)
