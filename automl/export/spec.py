"""``spec.json``: everything a bundle needs besides its weights, as plain JSON (no pickle).

A bundle folder holds ``model.safetensors`` (weights), ``spec.json`` (this), ``model.onnx``
(optional), ``model.int8.onnx`` (with ``--quantize int8``) and ``README.md`` (the model card).
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automl.export.errors import BundleError

FORMAT = "automl-bundle"
FORMAT_VERSION = 1
SPEC = "spec.json"
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
CARD = "README.md"
COSTS = ("params", "flops", "latency_ms", "peak_memory_mb", "comm_bytes_per_step",
         "train_seconds")


def versions() -> dict[str, str]:
    """Package versions at export time (torch is imported already; the rest only if present)."""
    import importlib.metadata as md

    import torch

    import automl

    out = {"automl": automl.__version__, "torch": torch.__version__,
           "python": platform.python_version()}
    for dist in ("numpy", "safetensors", "onnx", "onnxruntime"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def build_spec(rec: Any, config: dict[str, Any], *, selected_by: str) -> dict[str, Any]:
    """The spec of trial ``rec`` (a :class:`TrialRecord`) of a study whose merged config is
    ``config``. Export-time sections (``files``, ``onnx``, ``quantization``, ``reproduce``) are
    added by the writer."""
    data = config.get("data", {})
    study_seed = int(config.get("study", {}).get("seed", 0))
    arch = dict(rec.arch or {})
    num_classes = int(arch.get("num_classes", 0))
    classes = [str(c) for c in config.get("_classes") or range(num_classes)]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "study": rec.study,
        "trial": rec.number,
        "selected_by": selected_by,
        "arch_space": rec.arch_space,
        "arch": arch,
        "loss": rec.loss,
        "loss_formula": rec.loss_formula,
        "input_shape": list(arch.get("input_shape", [])),
        "input_dtype": "float32",
        "classes": classes,
        "preprocessing": rec.preprocessing,
        "metrics": {"val_accuracy": rec.val_accuracy, "test_accuracy": rec.test_accuracy,
                    "best_epoch": rec.best_epoch},
        "costs": {k: getattr(rec, k) for k in COSTS},
        "cost_axis": config.get("study", {}).get("cost", "flops"),
        "hparams": rec.hparams,
        "train_config": rec.train_config,
        "seed": (rec.train_config or {}).get("seed", study_seed + rec.number),
        "data": {
            "source": data.get("source"),
            "val_fraction": data.get("val_fraction"),
            "test_fraction": data.get("test_fraction"),
            "standardize": data.get("standardize", True),
            "split_seed": study_seed,
            "sha256": config.get("_data_hash"),
        },
        "versions": versions(),
    }


def write_spec(folder: Path, spec: dict[str, Any]) -> None:
    (folder / SPEC).write_text(json.dumps(spec, indent=2, sort_keys=False) + "\n")


def read_spec(folder: str | Path) -> dict[str, Any]:
    """Read and sanity-check ``spec.json`` of a bundle folder (one-line :class:`BundleError`)."""
    folder = Path(folder)
    path = folder / SPEC
    if not folder.is_dir():
        raise BundleError(f"{folder}: bundle folder not found")
    if not path.is_file():
        raise BundleError(f"{folder}: not a model bundle (no {SPEC}); make one with automl export")
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: cannot read ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise BundleError(f"{path}: not an automl bundle spec (format != {FORMAT!r})")
    if int(spec.get("format_version", 0)) > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {spec.get('format_version')} is newer than this automl "
            f"reads ({FORMAT_VERSION}); upgrade automl"
        )
    for key in ("arch", "input_shape", "classes", "preprocessing"):
        if not spec.get(key):
            raise BundleError(f"{path}: missing {key!r}")
    return spec
