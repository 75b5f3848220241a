"""Inputs for prediction: arrays or nested lists -> a float32 batch of the model's input shape,
and ``.npz`` / ``.csv`` files for ``automl predict``. Every problem is a one-line
:class:`InputError` that says what would have fitted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl.export.errors import InputError


def expected(input_shape: Sequence[int]) -> str:
    shape = ", ".join(str(s) for s in input_shape)
    flat = math.prod(input_shape)
    return f"a batch of samples of shape [{shape}] (or {flat} numbers each)"


FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_batch(x: Any, input_shape: Sequence[int], table: dict[str, Any] | None = None
             ) -> np.ndarray:
    """``x`` as a float32 ``(N, *input_shape)`` array.

    Accepted: ``(N, *input_shape)``, flat ``(N, prod(input_shape))`` rows, and ``(N, H, W)``
    images for a one-channel ``(1, H, W)`` model (the data loader's rule). For a table model
    (``table``: the bundle's schema), raw rows: see :func:`table_batch`.
    """
    if table is not None:
        return table_batch(x, table)
    shape = tuple(int(s) for s in input_shape)
    want = expected(shape)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # ragged nested lists
        raise InputError(f"samples differ in length; expected {want}") from None
    if arr.dtype.kind not in "iuf":
        what = "text" if arr.dtype.kind in "US" else "mixed or non-numeric values"
        raise InputError(f"inputs contain {what}; expected {want}")
    if arr.ndim == 0:
        raise InputError(f"got a single number; expected {want}")
    if arr.shape[0] == 0:
        raise InputError(f"empty batch; expected {want}")
    if arr.shape[1:] != shape:
        if arr.ndim == 2 and arr.shape[1] == math.prod(shape):
            arr = arr.reshape((arr.shape[0], *shape))
        elif len(shape) >= 2 and shape[0] == 1 and arr.shape[1:] == shape[1:]:
            arr = arr[:, None]
        else:
            got = "[" + ", ".join(str(s) for s in arr.shape[1:]) + "]"
            raise InputError(f"samples have shape {got}; expected {want}")
    with np.errstate(over="ignore"):  # beyond float32: infinite, refused just below
        arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"inputs contain NaN or infinite values (or beyond float32's "
                         f"{FLOAT32_MAX:.1e}); expected finite numbers, {want}")
    return arr


def table_batch(x: Any, table: dict[str, Any]) -> np.ndarray:
    """Raw table rows as the coded float32 ``(N, columns)`` batch a table model reads:
    a pandas DataFrame or a list of ``{column: value}`` objects (columns picked by name; others,
    the label included, ignored), a list of rows holding the columns' values in the schema's
    order (text and numbers alike), or an already coded numeric array (the ONNX graph's input:
    level codes, NaN for a missing value). A level never seen in training goes to the model's
    unknown slot; a missing column or text in a numeric one is a one-line InputError."""
    import pandas as pd

    from automl.data.table import encode

    columns = table["columns"]
    names = [c["name"] for c in columns]
    want = f"rows with the columns {', '.join(names)}"
    if isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
        if x.ndim != 2 or x.shape[1] != len(names) or not len(x):
            raise InputError(f"coded rows must have shape (N, {len(names)}); expected {want}")
        with np.errstate(over="ignore"):
            coded = x.astype(np.float32)
        if np.isinf(coded).any():  # NaN is a missing value; infinity is not a value
            raise InputError(f"inputs contain infinite values (or beyond float32's "
                             f"{FLOAT32_MAX:.1e})")
        return coded
    if isinstance(x, pd.DataFrame):
        frame = x
    elif isinstance(x, list | tuple) and x and all(isinstance(r, dict) for r in x):
        frame = pd.DataFrame.from_records(list(x))
    elif isinstance(x, list | tuple) and x and all(
            isinstance(r, list | tuple) and len(r) == len(names) for r in x):
        frame = pd.DataFrame([list(r) for r in x], columns=names, dtype=object)
    else:
        raise InputError(f"expected {want} (objects keyed by column name, or lists of "
                         f"{len(names)} values)")
    if not len(frame):
        raise InputError(f"empty batch; expected {want}")
    if any(isinstance(v, dict | list) for v in frame.to_numpy().ravel().tolist()):
        raise InputError(f"a row value is a list or object; expected {want}")
    return encode(frame, columns, "inputs", InputError)


def read_inputs(path: str | Path, table: dict[str, Any] | None = None
                ) -> tuple[Any, np.ndarray | None]:
    """Features (and labels, when present) from ``INPUT.npz`` or ``INPUT.csv``.

    ``.npz``: array ``x`` (or the file's only array), optional ``y``; read without pickle.
    ``.csv``: numbers, an optional header row; a column named ``label`` is taken as labels.
    For a table model (``table``: the bundle's schema) a ``.csv`` or ``.parquet`` table with a
    header, its columns picked by name; the label column, when present, gives the labels.
    """
    path = Path(path)
    if table is not None and path.suffix in (".csv", ".parquet"):
        from automl.data.table import cell_text, encode, read_frame

        frame = read_frame(path, InputError)
        label = table.get("label")
        y = None
        if label and label in frame.columns:
            y = np.asarray([cell_text(v) for v in frame[label].tolist()])
        return encode(frame, table["columns"], path, InputError), y
    if not path.is_file():
        raise InputError(f"{path}: input file not found")
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix == ".csv":
        return _read_csv(path)
    raise InputError(f"{path}: expected a .npz or .csv file")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile / numpy raise many types for a bad file
        raise InputError(f"{path}: cannot read .npz ({type(exc).__name__}: {exc})") from None
    if "x" in arrays:
        return arrays["x"], arrays.get("y")
    if len(arrays) == 1:
        return next(iter(arrays.values())), None
    raise InputError(f"{path}: expected an array named 'x'; found {sorted(arrays) or 'none'}")


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import csv

    try:
        with path.open(newline="") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read CSV ({exc})") from None
    if not rows:
        raise InputError(f"{path}: empty CSV file")
    header = None
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    label_col = header.index("label") if header and "label" in header else None
    feats, labels = [], []
    for lineno, row in enumerate(rows, start=2 if header else 1):
        if header and len(row) != len(header):
            raise InputError(f"{path}:{lineno}: expected {len(header)} columns, got {len(row)}")
        if label_col is not None:
            labels.append(row[label_col].strip())
        try:
            feats.append([float(v) for i, v in enumerate(row) if i != label_col])
        except ValueError:
            raise InputError(f"{path}:{lineno}: non-numeric feature value") from None
    if len({len(f) for f in feats}) > 1:
        raise InputError(f"{path}: rows have different numbers of columns")
    x = np.asarray(feats, dtype=np.float32)
    return x, (np.asarray(labels) if label_col is not None else None)
