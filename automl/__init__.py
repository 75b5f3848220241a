"""AutoML / neural architecture search: study config, controller, storage, ranking, CLI.

Importing :mod:`automl` is cheap (no torch); heavy pieces load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from automl.export.load import load_model
    from automl.export.predictor import Predictor

__all__ = ["Predictor", "__version__", "load_model"]

# PEP 562: `from automl import load_model, Predictor` imports torch only when asked for.
_LAZY = {"load_model": "automl.export.load", "Predictor": "automl.export.predictor"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'automl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
