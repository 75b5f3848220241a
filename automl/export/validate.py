"""Checks of every ``spec.json`` field a loader reads, and of the files' sha256 sums.

A bundle is data from wherever it came from: a field of the wrong type, a huge shape, NaN
statistics or a swapped weights file must end in a one-line :class:`BundleError` naming the
field, never in a traceback halfway through loading (or an HTTP 500 in ``automl serve``).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from automl.export.errors import BundleError

MAX_INPUT_NUMBERS = 2**24  # numbers per sample: far above any model our spaces build
MAX_CLASSES = 100_000
MAX_CLASS_NAME = 1000  # characters
# Files a bundle may list in ``files``; anything else (a path, "../x") is refused.
KNOWN_FILES = ("model.safetensors", "model.onnx", "model.int8.onnx", "model.pt2")
SECTIONS = ("metrics", "costs", "data", "train_config", "hparams", "versions", "retrain",
            "verification", "onnx", "quantization", "reproduce", "pt2")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_spec(spec: Any, where: str, format_name: str, newest: int) -> dict[str, Any]:
    """``spec`` if every field a loader reads is well-formed, else a one-line BundleError."""

    def bad(field: str, why: str) -> BundleError:
        return BundleError(f"{where}: field {field!r} {why}")

    if not isinstance(spec, dict) or spec.get("format") != format_name:
        raise BundleError(f"{where}: not an automl bundle spec (format != {format_name!r})")
    version: Any = spec.get("format_version")
    if not _int(version) or version < 1:
        raise bad("format_version", f"must be an integer from 1 to {newest}, got {version!r}")
    if version > newest:
        raise BundleError(f"{where}: bundle format {version} is newer than this automl reads "
                          f"({newest}); upgrade automl")
    shape = _input_shape(spec.get("input_shape"), bad)
    arch = _arch(spec.get("arch"), shape, bad)
    _classes(spec.get("classes"), arch.num_classes, bad)
    if spec.get("input_dtype", "float32") != "float32":  # what every backend feeds the model
        raise bad("input_dtype", f"must be 'float32', got {str(spec['input_dtype'])[:40]!r}")
    _preprocessing(spec.get("preprocessing"), shape, bad)
    _table(spec["preprocessing"].get("table"), arch, bad)
    if "loss" in spec:
        _loss(spec["loss"], bad)
    _files(spec.get("files"), bad)
    for key in SECTIONS:
        if spec.get(key) is not None and not isinstance(spec[key], dict):
            raise bad(key, f"must be an object, got {type(spec[key]).__name__}")
    return spec


def _input_shape(shape: Any, bad: Any) -> tuple[int, ...]:
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
            or not all(_int(s) and s > 0 for s in shape)):
        got = repr(shape)[:100]
        raise bad("input_shape", f"must be a list of 1 to 4 positive integers, got {got}")
    if math.prod(shape) > MAX_INPUT_NUMBERS:
        raise bad("input_shape", f"{shape} has over {MAX_INPUT_NUMBERS} numbers per sample")
    return tuple(shape)


def _arch(arch: Any, shape: tuple[int, ...], bad: Any) -> Any:
    from search_spaces import arch_from_dict

    if not isinstance(arch, dict):
        raise bad("arch", "must be an object (an architecture spec)")
    try:
        spec = arch_from_dict(arch)
    except Exception as exc:  # the spec classes raise ValueError; anything else is refused too
        raise bad("arch", f"is not a valid architecture spec ({str(exc).splitlines()[0]})"
                  ) from None
    if tuple(spec.input_shape) != shape:
        raise bad("input_shape", f"{list(shape)} does not match arch.input_shape "
                                 f"{list(spec.input_shape)}")
    return spec


def _classes(classes: Any, num_classes: int, bad: Any) -> None:
    if not isinstance(classes, list) or not classes or len(classes) > MAX_CLASSES:
        raise bad("classes", f"must be a non-empty list of at most {MAX_CLASSES} strings")
    if not all(isinstance(c, str) and len(c) <= MAX_CLASS_NAME for c in classes):
        raise bad("classes", f"must hold strings of at most {MAX_CLASS_NAME} characters")
    if len(classes) != num_classes:
        raise bad("classes", f"has {len(classes)} names but the architecture has "
                             f"{num_classes} classes")
    if len(set(classes)) != len(classes):  # two classes printed as one label
        raise bad("classes", "names a class twice")


def _preprocessing(pre: Any, shape: tuple[int, ...], bad: Any) -> None:
    # The data loader's rule: a flat sample is standardized per feature, any other per entry
    # of its first axis; either way one mean and one std per entry of that axis.
    axis = "feature" if len(shape) == 1 else "channel"
    if not isinstance(pre, dict) or not {"axis", "mean", "std"} <= set(pre) <= {
            "axis", "mean", "std", "table"}:
        raise bad("preprocessing", 'must be {"axis": ..., "mean": [...], "std": [...]} and '
                                   'for a table "table": {...}')
    if pre["axis"] != axis:
        raise bad("preprocessing", f"axis must be {axis!r} for input_shape {list(shape)}, "
                                   f"got {pre['axis']!r}"[:300])
    for key in ("mean", "std"):
        values = pre[key]
        if not isinstance(values, list) or len(values) != shape[0]:
            raise bad("preprocessing", f"{key} must be a list of {shape[0]} numbers (one per "
                                       f"{axis} of input_shape {list(shape)})")
        if not all(_number(v) and math.isfinite(v) for v in values):
            raise bad("preprocessing", f"{key} must hold finite numbers")
    if not all(v > 0 for v in pre["std"]):
        raise bad("preprocessing", "std must be > 0")


def _table(table: Any, arch: Any, bad: Any) -> None:
    """A table's schema: one entry per column of the input, each numeric or categorical with
    its level names, matching the network's encoder (or plain input) column for column."""
    from search_spaces import ColumnSpec

    if table is None:
        if arch.kind == "table":
            raise bad("preprocessing", "a table network needs the table's schema (\"table\")")
        return
    if not isinstance(table, dict) or set(table) != {"columns", "label"}:
        raise bad("preprocessing", 'table must be {"columns": [...], "label": "..."}')
    columns, label = table["columns"], table["label"]
    # A table of plain numbers feeds a plain network: one numeric column per input feature.
    wanted = arch.columns if arch.kind == "table" else [
        ColumnSpec("numeric")] * (arch.input_shape[0] if len(arch.input_shape) == 1 else -1)
    if not isinstance(columns, list) or not columns or len(columns) != len(wanted):
        raise bad("preprocessing", "table.columns must match the network's input columns")
    if not isinstance(label, str):
        raise bad("preprocessing", "table.label must be a column name")
    names: set[str] = set()
    for i, (c, want) in enumerate(zip(columns, wanted, strict=True)):
        if not _column_matches(c, want, names):
            raise bad("preprocessing", f"table.columns[{i}] must be a distinct named "
                                       f"{want.kind} column matching the network's")
        names.add(c["name"])


def _column_matches(c: Any, want: Any, names: set[str]) -> bool:
    """``c`` is ``{"name", "kind", "levels"}`` with a new name, ``want``'s kind and distinct
    level names: none for a numeric column; for a categorical one ``want.levels`` of them, or
    none (training held no value of it)."""
    if not (isinstance(c, dict) and set(c) == {"name", "kind", "levels"}):
        return False
    name, levels = c["name"], c["levels"]
    if not (isinstance(name, str) and name and name not in names and c["kind"] == want.kind):
        return False
    if not (isinstance(levels, list) and all(isinstance(v, str) for v in levels)
            and len(set(levels)) == len(levels)):
        return False
    if want.kind == "numeric":
        return not levels
    return not levels or len(levels) == want.levels


def _loss(loss: Any, bad: Any) -> None:
    from search_spaces import loss_from_dict

    try:
        loss_from_dict(loss)
    except Exception as exc:  # as for arch
        raise bad("loss", f"is not a valid loss spec ({str(exc).splitlines()[0]})") from None


def _files(files: Any, bad: Any) -> None:
    if not isinstance(files, dict):
        raise bad("files", "must map file names to {bytes, sha256} (re-export the bundle)")
    for name, entry in files.items():
        if name not in KNOWN_FILES:
            raise bad("files", f"names an unknown file {name!r}"[:200])
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _SHA256.fullmatch(entry["sha256"]) or not _int(entry.get("bytes"))):
            raise bad("files", f"entry {name!r} must be {{bytes: int, sha256: 64 hex digits}}")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(folder: Path, spec: dict[str, Any], name: str) -> Path:
    """``folder/name`` if it exists and its sha256 is the one ``spec["files"]`` records."""
    path = folder / name
    entry = spec.get("files", {}).get(name)
    if entry is None:
        raise BundleError(f"{folder}: spec.json lists no checksum for {name}; refusing to load it")
    if not path.is_file():
        raise BundleError(f"{folder}: bundle has no {name}")
    if sha256(path) != entry["sha256"]:
        raise BundleError(f"{path}: sha256 does not match spec.json (file replaced or damaged); "
                          "refusing to load it")
    return path
