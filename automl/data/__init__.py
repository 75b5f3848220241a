"""Data sources -> deterministic train / validation / test splits, standardized on train only.

Sources: ``digits`` (scikit-learn's bundled 8x8 digits), ``PATH.npz`` (arrays ``x``, ``y`` and
optionally ``x_test``, ``y_test``), ``PATH.csv`` (label column ``label`` or the last column), and
``python:module:function`` returning ``(x, y)`` or ``(x, y, x_test, y_test)``.
"""

from __future__ import annotations

from automl.data.sources import RawData, digits, load_source
from automl.data.splits import PreparedData, apply_preprocessing, data_hash, load_data, prepare

__all__ = ["PreparedData", "RawData", "apply_preprocessing", "data_hash", "digits", "load_data",
           "load_source", "prepare"]
