"""``--out`` handling and study data re-loading, shared by ``export`` and ``retrain``.

Which data is loaded is the user's call, never the bundle's or the database's: a
``python:module:function`` source imports and runs code, so one stored in a shared database
runs only when the user passes it with ``--data``, and a retrain from a bundle always takes its
data from ``--data`` (:func:`choose_source`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import DataError
from automl.export.errors import ExportError

if TYPE_CHECKING:
    from automl.data import PreparedData


def check_out(out: Path) -> None:
    """``--out`` must not exist, or be an empty folder (checked before any slow work)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"--out {out}: already exists and is not empty; choose a new folder")


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A scratch folder beside ``out`` that becomes ``out`` on success and vanishes on failure,
    so an interrupted export never leaves a half-written bundle that looks complete."""
    from automl.storage.artifacts import check_writable

    check_out(out)
    # The artifacts folder's probe: a file in the way, a read-only file system, no permission.
    check_writable(out.parent, f"--out {out}")
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:  # what check_out cannot see: /proc, a full disk, a race
        raise ExportError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    try:
        yield tmp
        check_out(out)  # someone may have written there meanwhile
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def data_config(spec_or_config: dict[str, Any]) -> dict[str, Any]:
    """``{source, val_fraction, test_fraction, standardize, split_seed, sha256}`` from a stored
    study config (``data`` + ``study.seed`` + ``_data_hash``) or a bundle spec's ``data``."""
    if "format" in spec_or_config:
        return dict(spec_or_config["data"])
    d = spec_or_config.get("data", {})
    return {"source": d.get("source", "digits"), "val_fraction": d.get("val_fraction", 0.15),
            "test_fraction": d.get("test_fraction", 0.15),
            "standardize": d.get("standardize", True), "label": d.get("label"),
            "categorical": d.get("categorical") or [], "ignore": d.get("ignore") or [],
            "split_seed": int(spec_or_config.get("study", {}).get("seed", 0)),
            "sha256": spec_or_config.get("_data_hash")}


def choose_source(d: dict[str, Any], given: str | None, *, from_bundle: bool,
                  required: bool) -> tuple[dict[str, Any] | None, list[str]]:
    """The data config to load (``d`` with ``--data`` as its source when given), or ``None``
    and a warning when the stored source must not be loaded without the user saying so."""
    stored = d.get("source")
    if given is not None:
        return {**d, "source": given}, []
    hint = f"--data {shlex.quote(stored)}" if isinstance(stored, str) else "--data SOURCE"
    if from_bundle:
        raise ExportError(f"retrain --from BUNDLE needs the data given explicitly: add {hint} "
                          f"(a bundle never chooses what is loaded or run)")
    if not isinstance(stored, str) or stored.startswith("python:"):
        why = f"the study's data source {stored!r} is Python code named by the database"
        if required:
            raise ExportError(f"retrain: {why}; it runs only if you pass {hint}")
        return None, [f"{why}, not run; ONNX checked on random inputs, accuracy not measured "
                      f"(pass {hint} to run it)"]
    return d, []


def table_options(d: dict[str, Any]) -> Any:
    """A table's reading options (label, categorical and ignored columns) as stored with the
    study or the bundle: names only, nothing else is taken from them."""
    from automl.data.table import TableOptions

    label, cats, ignore = d.get("label"), d.get("categorical") or [], d.get("ignore") or []
    names = [label] if label is not None else []
    if not all(isinstance(v, list) for v in (cats, ignore)) or not all(
            isinstance(n, str) for n in (*names, *cats, *ignore)):
        raise DataError("data.label, data.categorical and data.ignore must be column names")
    return TableOptions(label, tuple(cats), tuple(ignore))


def check_fits(arch: dict[str, Any], data: PreparedData, command: str) -> None:
    """Refuse data whose samples or classes are not those ``arch`` was built for: a network
    would fail on the first batch, or score and export against the wrong labels."""
    want = tuple(int(n) for n in arch.get("input_shape") or ())
    got = tuple(int(n) for n in data.splits.x_train.shape[1:])
    if want and got != want:
        raise ExportError(f"{command}: the data's samples have shape {got}, the model reads "
                          f"{want}; give the data it was searched on (--data)")
    n, have = int(arch.get("num_classes") or 0), int(data.splits.num_classes)
    if n and have != n:
        raise ExportError(f"{command}: the data has {have} classes, the model predicts {n}; "
                          "give the data it was searched on (--data)")


def reload_data(d: dict[str, Any], *, required: bool) -> tuple[PreparedData | None, list[str]]:
    """Re-create the study's splits from its data source; warn when the data changed since.

    Returns ``(data, warnings)``; with ``required=False`` an unreadable source gives
    ``(None, [warning])`` instead of raising.
    """
    from automl.data import load_data

    try:
        data = load_data(d["source"], d["val_fraction"], d["test_fraction"], d["split_seed"],
                         d["standardize"], table_options(d))
    except DataError as exc:
        if required:
            raise
        return None, [f"data source {d['source']!r} could not be re-loaded ({exc}); "
                      "ONNX checked on random inputs, accuracy not measured"]
    warnings = []
    if d.get("sha256") and d["sha256"] != data.data_hash:
        warnings.append(
            f"data source {d['source']!r} has changed since the search (sha256 "
            f"{data.data_hash[:12]} != {d['sha256'][:12]}); figures below are on today's data"
        )
    return data, warnings
