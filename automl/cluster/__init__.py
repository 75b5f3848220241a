"""Launchers: run a search's workers as Slurm jobs (submitit), local submitit jobs, or Ray tasks.

Every launcher runs the ordinary worker loop (:mod:`automl.control.loop`) in each job against the
one
shared database; nothing here imports submitit or Ray until a search asks for them, so
``automl --help`` stays fast. See README "On a cluster".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.cluster.settings import LAUNCHERS, ClusterSection

__all__ = ["LAUNCHERS", "ClusterSection", "launch"]

if TYPE_CHECKING:
    from automl.cluster.follow import launch


def __getattr__(name: str) -> Any:
    if name == "launch":
        from automl.cluster.follow import launch

        return launch
    raise AttributeError(f"module 'automl.cluster' has no attribute {name!r}")
