"""``spec.json``: everything a bundle needs besides its weights, as plain JSON (no pickle).

A bundle folder holds ``model.safetensors`` (weights), ``spec.json`` (this), ``model.onnx``
(optional), ``model.int8.onnx`` (with ``--quantize int8``), ``model.pt2`` (torch.export, with
``--onnx``) and ``README.md`` (the model card). Format 2: the ONNX and pt2 graphs take raw
inputs (standardization inside); format 1 graphs took standardized ones.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automl.export.errors import BundleError
from automl.export.validate import validate_spec

FORMAT = "automl-bundle"
FORMAT_VERSION = 2
SPEC = "spec.json"
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
PT2 = "model.pt2"
CARD = "README.md"
MAX_SPEC_BYTES = 64 * 2**20
COSTS = ("params", "flops", "latency_ms", "peak_memory_mb", "comm_bytes_per_step",
         "train_seconds")


def versions() -> dict[str, str]:
    """Package versions at export time (torch is imported already; the rest only if present)."""
    import importlib.metadata as md

    import torch

    from automl.version import __version__

    out = {"automl": __version__, "torch": torch.__version__,
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
    from automl.config import cost_or_default  # here: reading a bundle needs no config

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
                    "best_epoch": rec.best_epoch, "metric": rec.metric,
                    "test_per_class": rec.test_per_class},
        "costs": {k: getattr(rec, k) for k in COSTS},
        "cost_axis": cost_or_default(config.get("study", {}).get("cost")),
        "hparams": rec.hparams,
        "train_config": rec.train_config,
        "seed": (rec.train_config or {}).get("seed", study_seed + rec.number),
        "data": {
            "source": data.get("source"),
            "val_fraction": data.get("val_fraction"),
            "test_fraction": data.get("test_fraction"),
            "standardize": data.get("standardize", True),
            "label": data.get("label"),
            "categorical": list(data.get("categorical") or []),
            "ignore": list(data.get("ignore") or []),
            "split_seed": study_seed,
            "sha256": config.get("_data_hash"),
        },
        "versions": versions(),
    }


def write_spec(folder: Path, spec: dict[str, Any]) -> None:
    (folder / SPEC).write_text(json.dumps(spec, indent=2, sort_keys=False) + "\n")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_spec(folder: str | Path) -> dict[str, Any]:
    """Read and validate ``spec.json`` of a bundle folder (one-line :class:`BundleError`).

    Nothing named in the spec is imported or run: it is parsed as JSON and every field a
    loader reads is checked (:mod:`automl.export.validate`).
    """
    folder = Path(folder)
    path = folder / SPEC
    if not folder.is_dir():
        raise BundleError(f"{folder}: bundle folder not found")
    if not path.is_file():
        raise BundleError(f"{folder}: not a model bundle (no {SPEC}); make one with automl export")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise BundleError(f"{path}: over {MAX_SPEC_BYTES} bytes; not a spec automl wrote")
    try:
        # NaN / Infinity are not JSON, and a spec holding them could not be served as JSON.
        spec = json.loads(path.read_text(), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{path}: cannot read ({detail})") from None
    return validate_spec(spec, str(path), FORMAT, FORMAT_VERSION)


def refits_start(spec: dict[str, Any]) -> bool:
    """Whether ``spec`` is the search's refit of a kept fitted start: no epoch trained
    (``retrain.epochs`` 0, see :func:`with_refit`), which a retrain of it repeats."""
    return (spec.get("retrain") or {}).get("epochs") == 0


def with_refit(spec: dict[str, Any], refit: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (of a searched trial) describing the search's refit of it on train + validation
    data instead (``automl/control/refit.py``), as a retrain's spec does: no held-out validation
    figure is left, the test figure is the refit's, the searched one is kept beside it."""
    stored = dict(spec.get("train_config") or {})
    # A refit of a kept fitted start trained no epoch (``retrain.epochs`` 0, which a retrain
    # of this bundle repeats); its train_config keeps the searched count, a valid config.
    spec = {**spec, "train_config": {**stored, "epochs": refit.get("epochs")
                                     or stored.get("epochs")}}
    spec["retrain"] = {
        "mode": "train+val", "by": "search", "epochs": refit.get("epochs"),
        "train_samples": refit.get("train_samples"), "best_epoch": refit.get("best_epoch"),
        "search_test_accuracy": spec["metrics"].get("test_accuracy"),
        "search_val_accuracy": spec["metrics"].get("val_accuracy"),
        "search_epochs": stored.get("epochs"), "ranks": stored.get("nproc", 1),
    }
    spec["metrics"] = {**spec["metrics"], "val_accuracy": None,
                       "test_accuracy": refit.get("test_accuracy"),
                       "best_epoch": refit.get("best_epoch"),
                       "test_per_class": refit.get("test_per_class")}
    return spec
