"""Checks of the arrays a data source returns: features and labels, one-line DataErrors.

Pure functions of arrays. A numpy cast never silently changes what the user gave: complex
numbers, objects, strings and dates are refused instead of truncated, and values beyond
float32 are refused instead of becoming inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl.errors import DataError

_KIND_NAMES = {
    "c": "complex numbers",
    "O": "Python objects",
    "U": "strings",
    "S": "bytes",
    "M": "dates",
    "m": "time deltas",
    "V": "records",
}


def _as_array(value: Any, name: str, what: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists, tensors that need grad, objects without __array__
        raise DataError(f"{name}: {what} must be an array ({type(exc).__name__})") from None


def check_x(x: Any, name: str, missing_ok: bool = False) -> np.ndarray:
    """``x`` as float32 of shape (N, D), (N, C, L), (N, H, W) or (N, C, H, W); real and finite
    (``missing_ok``: NaN allowed, as a coded table's missing values; inf never)."""
    arr = _as_array(x, name, "features")
    if arr.dtype.kind not in "biuf":
        got = _KIND_NAMES.get(arr.dtype.kind, str(arr.dtype))
        raise DataError(f"{name}: features must be real numbers, got {got} (dtype {arr.dtype})")
    if arr.ndim not in (2, 3, 4):
        raise DataError(
            f"{name}: expected shape (N, D), (N, C, L), (N, H, W) or (N, C, H, W), "
            f"got {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise DataError(f"{name}: has no samples (shape {arr.shape})")
    if 0 in arr.shape[1:]:
        raise DataError(f"{name}: samples have no features (shape {arr.shape})")
    finite = (lambda a: ~np.isinf(a)) if missing_ok else np.isfinite
    if arr.dtype.kind == "f" and not np.all(finite(arr)):
        raise DataError(f"{name}: contains NaN or inf values")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.all(finite(out)):
        raise DataError(f"{name}: values beyond the float32 range (about 3.4e38)")
    # (N, A, B) stays as it is: A channels of length B or an A x B image; the search decides.
    return out


def _label_values(y: np.ndarray, name: str) -> np.ndarray:
    """Labels as an int or string array: whole floats become ints, anything else fails."""
    kind = y.dtype.kind
    if kind in "biuUS":
        return y
    if kind == "f":
        if not np.all(np.isfinite(y)):
            raise DataError(f"{name}: labels contain NaN or inf")
        if not np.all(y == np.round(y)) or np.any(np.abs(y) > 2**53):
            raise DataError(f"{name}: labels must be integers or strings, got non-integer floats")
        return y.astype(np.int64)
    if kind == "O":
        types = {type(v) for v in y.tolist()}
        if types and (types <= {str} or types <= {int}):
            if types <= {int} and any(abs(v) > 2**63 - 1 for v in y.tolist()):
                raise DataError(f"{name}: labels must fit 64-bit integers")
            return y
        shown = ", ".join(sorted(t.__name__ for t in types))
        raise DataError(f"{name}: labels must be all integers or all strings, got {shown}")
    got = _KIND_NAMES.get(kind, str(y.dtype))
    raise DataError(f"{name}: labels must be integers or strings, got {got} (dtype {y.dtype})")


def labels_to_index(
    y: Any, name: str, classes: list[Any] | None
) -> tuple[np.ndarray, list[Any]]:
    """Class indices of ``y`` (int64) and the sorted class labels (``classes`` when given)."""
    arr = _as_array(y, name, "labels")
    if arr.ndim == 2 and arr.shape[1] == 1:  # a column vector is still one label per sample
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{name}: labels must be 1-D, got shape {arr.shape}")
    arr = _label_values(arr, name)
    if classes is None:
        classes = sorted(set(arr.tolist()))
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.asarray([lookup[v] for v in arr.tolist()], dtype=np.int64), classes
    except (KeyError, TypeError) as exc:
        label = exc.args[0] if isinstance(exc, KeyError) else "of another type"
        raise DataError(
            f"{name}: label {label!r} does not occur in the training labels"
        ) from None
