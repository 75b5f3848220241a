"""Where a search's workers run: processes on this machine, Slurm jobs (submitit), local
submitit jobs, or Ray tasks, one registry (:data:`LAUNCHERS`, :func:`launcher`).

Every launcher runs the ordinary worker loop (:mod:`automl.control.loop`) in each job against
the one shared database; nothing here imports submitit or Ray until a search asks for them, so
``automl --help`` stays fast. See README "On a cluster".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from automl.cluster.settings import LAUNCHER_MODULES, LAUNCHERS, ClusterSection

__all__ = ["LAUNCHERS", "ClusterSection", "launcher"]


def launcher(name: str) -> Callable[..., Any]:
    """The ``launch`` function of launcher ``name`` (one of :data:`LAUNCHERS`), imported now:
    ``launch(cfg, storage, data, argv, *, started_wall, say, study_plan, here)`` runs the search's
    ``study.workers`` workers and returns its outcome; ``here()`` runs the search loop in this
    process (the local launcher's worker 0; the cluster launchers only follow the run)."""
    launch: Callable[..., Any] = importlib.import_module(LAUNCHER_MODULES[name]).launch
    return launch
