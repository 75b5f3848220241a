"""What ``automl serve`` tells the world about its model, and nothing more.

``GET /metadata`` is built from an allow-list of spec keys, so a key added to ``spec.json`` later
stays private until someone decides it is safe to publish; the bundle's own folder, the storage
URL, the reproduce commands and the data file never leave the server. Strings under the kept keys
that still look like a location (an absolute path, ``~``, a URL) are withheld as well.
"""

from __future__ import annotations

import re
from typing import Any

WITHHELD = "<withheld>"
ALL = None  # keep the whole value (strings still pass the location check)

# key -> ALL, or the allowed keys of the nested object
ALLOWED: dict[str, Any] = {
    "format": ALL, "format_version": ALL, "created_at": ALL, "study": ALL, "trial": ALL,
    "selected_by": ALL, "arch_space": ALL, "arch": ALL, "loss": ALL, "loss_formula": ALL,
    "input_shape": ALL, "input_dtype": ALL, "classes": ALL, "preprocessing": ALL,
    "metrics": ALL, "costs": ALL, "cost_axis": ALL, "hparams": ALL, "seed": ALL,
    "versions": ALL,
    "data": {"val_fraction": ALL, "test_fraction": ALL, "standardize": ALL,
             "split_seed": ALL, "sha256": ALL},
    "train_config": {"epochs": ALL, "batch_size": ALL, "lr": ALL, "weight_decay": ALL,
                     "optimizer": ALL, "seed": ALL, "augment": ALL, "precision": ALL,
                     "grad_accum": ALL},
    "onnx": {"exporter": ALL, "opset": ALL, "size_bytes": ALL},
    "quantization": {"scheme": ALL, "method": ALL, "format": ALL, "weights": ALL,
                     "activations": ALL, "calibration_samples": ALL, "float": ALL, "int8": ALL,
                     "size_ratio": ALL, "accuracy_drop_points": ALL, "latency_note": ALL},
    "verification": {"inputs": ALL, "samples": ALL, "torch_test_accuracy": ALL,
                     "onnx_max_abs_diff": ALL},
    "retrain": {"mode": ALL, "epochs": ALL, "train_samples": ALL, "test_accuracy": ALL,
                "search_test_accuracy": ALL, "search_epochs": ALL},
}
BUILTIN_SOURCES = ("digits",)
_LOCATION = re.compile(r"^\s*(/|~|\\|[A-Za-z]:[\\/]|\.{1,2}[\\/])|://|^[^\s]*[\\/][^\s]*$")


def looks_like_location(text: str) -> bool:
    """A filesystem path (absolute, home, relative with a separator) or a URL of any scheme."""
    return bool(_LOCATION.search(text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return WITHHELD if looks_like_location(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _pick(value: Any, allowed: Any) -> Any:
    if allowed is ALL or not isinstance(value, dict):
        return _clean(value) if allowed is ALL else None
    return {k: _pick(value[k], sub) for k, sub in allowed.items() if k in value}


def public_metadata(spec: dict[str, Any]) -> dict[str, Any]:
    """The publishable part of a bundle spec (see :data:`ALLOWED`)."""
    out = {k: _pick(spec[k], sub) for k, sub in ALLOWED.items() if k in spec}
    source = (spec.get("data") or {}).get("source")
    if isinstance(source, str) and "data" in out:
        # The name of a built-in data set is safe; a file path or python:module is not.
        out["data"]["source"] = source if source in BUILTIN_SOURCES else WITHHELD
    return {k: v for k, v in out.items() if v is not None}

