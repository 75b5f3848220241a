"""AutoML / neural architecture search: study config, controller, storage, ranking, CLI.

Importing :mod:`automl` is cheap (no torch); heavy pieces load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
