"""AutoML / neural architecture search: study config, controller, storage, ranking, CLI.

The Python API is :mod:`automl.api`; its functions are also here: ``automl.search(...)``,
``automl.leaderboard(study)``, ``automl.studies()``, ``automl.trial(study, n)``... (only
``export`` is called as ``automl.api.export``: :mod:`automl.export` is the package that does it).
Importing :mod:`automl` is cheap (no torch); heavy pieces load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.version import __version__

if TYPE_CHECKING:
    from automl.api import (
        StudyResult,
        leaderboard,
        load_config,
        search,
        studies,
        study_config,
        trial,
        trials,
    )
    from automl.export.load import load_model
    from automl.export.predictor import Predictor

__all__ = [
    "Predictor",
    "StudyResult",
    "__version__",
    "leaderboard",
    "load_config",
    "load_model",
    "search",
    "studies",
    "study_config",
    "trial",
    "trials",
]

# PEP 562: `from automl import search, load_model` imports torch only when a function runs.
_LAZY = {
    "load_model": "automl.export.load",
    "Predictor": "automl.export.predictor",
    **{name: "automl.api" for name in ("StudyResult", "leaderboard", "load_config", "search",
                                       "studies", "study_config", "trial", "trials")},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'automl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
