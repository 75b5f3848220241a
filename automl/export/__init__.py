"""Reuse a searched model: export bundles, load them, predict, serve, quantize, retrain.

A *bundle* is a folder that needs neither the database nor pickle: ``model.safetensors``
(weights), ``spec.json`` (architecture and loss specs, input shape, classes, preprocessing,
metrics, costs, seeds, data hash, versions, the reproduce command, each file's sha256),
``model.onnx`` (+ ``model.int8.onnx``; raw inputs, standardization inside), ``model.pt2``
(torch.export) and a ``README.md`` model card. Loading a bundle runs nothing named in it.

The HTTP server is :mod:`automl.serve`. Names load on first use, so importing this package does
not import torch or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.export.bundle import BundleOptions
    from automl.export.exporter import export_study
    from automl.export.load import load_model
    from automl.export.predictor import Prediction, Predictor
    from automl.export.retrain import retrain
    from automl.export.spec import read_spec

_LAZY = {
    "BundleOptions": "automl.export.bundle",
    "export_study": "automl.export.exporter",
    "load_model": "automl.export.load",
    "Prediction": "automl.export.predictor",
    "Predictor": "automl.export.predictor",
    "retrain": "automl.export.retrain",
    "read_spec": "automl.export.spec",
}

__all__ = [
    "BundleOptions",
    "Prediction",
    "Predictor",
    "export_study",
    "load_model",
    "read_spec",
    "retrain",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'automl.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
