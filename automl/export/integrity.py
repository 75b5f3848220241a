"""A bundle checked as a whole before anything of it is used, whatever the backend.

``spec.json`` is validated field by field (:mod:`automl.export.validate`), and then the files
against it and against each other, so that a backend cannot run a file the others would refuse:

- every bundle file present (:data:`~automl.export.validate.KNOWN_FILES`) must have its entry in
  ``spec.json``'s ``files``, and its sha256; the weights must be there. A listed file
  that was removed is fine (nothing loads it; asking for it says it is missing), and so is a
  file that is no bundle file (notes, the model card);
- the weights' tensors (names, dtypes, shapes, read from the safetensors header without
  loading a tensor) must be those of the network ``spec.json``'s ``arch`` builds (built on the
  meta device: no memory, no initialization);
- each ONNX graph's input must be ``(batch, *input_shape)`` float32 and its outputs
  ``(batch, len(classes))`` (:func:`automl.export.onnx_io.check_graph`), and the input shape,
  preprocessing and architecture its metadata records must be ``spec.json``'s (the graph
  standardizes and computes with its own: an edited spec would make the backends disagree).
  Graphs exported before the architecture was recorded are compared on the first two.

Whoever can rewrite ``spec.json`` can rewrite its checksums too: the consistency checks are what
stop a spec edited to another architecture, or a file swapped in with its checksum updated.
``model.pt2`` is checked by its sha256 only (nothing here loads it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automl.export.errors import BundleError
from automl.export.spec import ONNX, ONNX_INT8, WEIGHTS, read_spec
from automl.export.validate import KNOWN_FILES, verify_file

Tensors = dict[str, tuple[str, list[int]]]  # name -> (safetensors dtype, shape)
MAX_NAMED = 2  # missing or unexpected tensors a message names
# Fields of spec.json a graph's metadata records (``arch`` since this check; class names are
# labels only and may be edited): the graph computes with them, whatever spec.json says.
GRAPH_RECORDS = ("input_shape", "preprocessing", "arch")


def open_bundle(folder: str | Path) -> dict[str, Any]:
    """The spec of the bundle in ``folder`` once the bundle is checked as a whole."""
    folder = Path(folder)
    spec = read_spec(folder)
    check_bundle(folder, spec)
    return spec


def check_bundle(folder: Path, spec: dict[str, Any]) -> None:
    """Checksums, weights against the architecture, graphs against the spec (one line)."""
    check_files(folder, spec)
    check_weights(folder, spec)
    check_graphs(folder, spec)


def check_files(folder: Path, spec: dict[str, Any]) -> None:
    """Every bundle file present has its entry in ``files`` and its sha256."""
    files = spec["files"]
    for name in KNOWN_FILES:
        path = folder / name
        present = path.exists() or path.is_symlink()
        if name not in files:
            if present or name == WEIGHTS:
                raise BundleError(f"{folder}: spec.json lists no checksum for {name}; "
                                  "refusing to load the bundle")
            continue
        if not present and name != WEIGHTS:
            continue  # removed: nothing loads it
        if not path.is_file():
            raise BundleError(f"{folder}: bundle has no {name}" if not present
                              else f"{path}: not a file")
        verify_file(folder, spec, name)  # the sha256 (the size recorded beside it is a hint)


def check_weights(folder: Path, spec: dict[str, Any]) -> None:
    """The weights' tensors are exactly those the spec's architecture has."""
    path = folder / WEIGHTS
    have, want = weights_header(path), spec_tensors(spec)
    if have == want:
        return
    missing = sorted(want.keys() - have.keys())
    extra = sorted(have.keys() - want.keys())
    differ = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])
    parts = []
    if differ:
        k = differ[0]
        parts.append(f"{len(differ)} tensor(s) differ (first {_name(k)}: {_fmt(have[k])} in "
                     f"{WEIGHTS}, {_fmt(want[k])} in the arch)")
    if missing:
        parts.append(f"{len(missing)} missing from {WEIGHTS} ({_names(missing)})")
    if extra:
        parts.append(f"{len(extra)} not in the arch ({_names(extra)})")
    raise BundleError(f"{path}: weights do not match spec.json's architecture "
                      f"({spec['arch'].get('kind')!s:.40}): {'; '.join(parts)}")


def check_graphs(folder: Path, spec: dict[str, Any]) -> None:
    """Each ONNX graph present takes and returns what the spec describes, and was made for the
    spec's input shape, preprocessing and architecture as far as its metadata records them."""
    from automl.export import onnx_io

    for name in (ONNX, ONNX_INT8):
        path = folder / name
        if not path.is_file():
            continue
        meta = onnx_io.check_graph(path, spec["input_shape"], len(spec["classes"]))
        for key in GRAPH_RECORDS:
            if key in meta and _json(meta[key]) != spec[key]:
                raise BundleError(f"{path}: the graph's metadata {key!r} is not spec.json's "
                                  "(the graph computes with its own); refusing to load the "
                                  "bundle")


def weights_header(path: Path) -> Tensors:
    """Names, dtypes and shapes of the tensors in a safetensors file (its header only)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            out: Tensors = {}
            for key in fh.keys():  # noqa: SIM118 - a safe_open handle, not a dict
                part = fh.get_slice(key)
                out[key] = (str(part.get_dtype()), [int(s) for s in part.get_shape()])
            return out
    except (SafetensorError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{path}: cannot read weights ({detail})") from None


def spec_tensors(spec: dict[str, Any]) -> Tensors:
    """Names, dtypes and shapes of the state of the network ``spec["arch"]`` describes."""
    import torch

    from search_spaces import arch_from_dict, build_model

    try:
        arch = arch_from_dict(spec["arch"])
        with torch.device("meta"):
            model = build_model(arch, checkpointing="none")
    except Exception as exc:  # the spec classes and builders raise several types
        raise BundleError(f"spec.json: field 'arch' cannot be built "
                          f"({str(exc).splitlines()[0][:200] if str(exc) else exc!r})"
                          ) from None
    names = _dtypes()
    return {k: (names.get(v.dtype, str(v.dtype)), list(v.shape))
            for k, v in model.state_dict().items()}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _fmt(entry: tuple[str, list[int]]) -> str:
    return f"{entry[0]} {entry[1]}"


def _name(key: str) -> str:
    return repr(key[:100])  # a header is data: repr escapes what a terminal would run


def _names(keys: list[str]) -> str:
    more = f" and {len(keys) - MAX_NAMED} more" if len(keys) > MAX_NAMED else ""
    return ", ".join(_name(k) for k in keys[:MAX_NAMED]) + more


def _dtypes() -> dict[Any, str]:
    """torch dtypes as a safetensors header names them."""
    import torch

    return {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
            torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}

