"""The ``[cluster]`` section of a study file: where the workers of a search run.

Plain data, no heavy imports: :mod:`automl.config` registers it beside the other sections, and
the launchers read it. ``study.workers`` stays the worker count for every launcher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trainer.settings import setting

# The one registry of where workers run: launcher name -> the module whose ``launch`` runs them.
# local: processes on this machine (this one is worker 0); slurm: a Slurm job array through
# submitit; slurm-local: the same submitit jobs as local processes; ray: Ray tasks. The
# modules are imported only when a search runs (submitit and Ray are heavy).
LAUNCHER_MODULES = {
    "local": "automl.cluster.local",
    "slurm": "automl.cluster.follow",
    "slurm-local": "automl.cluster.follow",
    "ray": "automl.cluster.follow",
}
LAUNCHERS = tuple(LAUNCHER_MODULES)
# Launchers whose workers may run on other machines than the one holding a SQLite file.
REMOTE_LAUNCHERS = ("slurm", "ray")
# Each of these becomes a line of a job script (``#SBATCH --key=value``): a line break or any
# other control character in one would start a line of the study file's choosing.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SBATCH_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class ClusterSection:
    """How ``automl search`` runs its ``study.workers`` workers (see README "On a cluster")."""

    launcher: str = setting("local", choices=LAUNCHERS, help="where the workers run")
    gpus_per_worker: int = setting(0, lo=0, hi=1024, help="each worker packs trials of "
                                   "trainer.nproc GPUs onto its own")
    cpus_per_worker: int = setting(1, lo=1, hi=4096, help="CPUs each worker asks for")
    partition: str | None = setting(None, help="Slurm partition")
    time_limit_min: int = setting(240, lo=1, hi=525_600, help="Slurm time limit in minutes; "
                                  "the job requeues itself before it")
    account: str | None = setting(None, help="Slurm account")
    sbatch: dict[str, Any] = setting(factory=dict, help="any other #SBATCH option by its long "
                                     "name, e.g. {qos = \"high\"}")
    setup: tuple[str, ...] = setting((), help="shell lines run before each job (module load "
                                     "..., source ...)")
    ray_address: str | None = setting(None, help="the Ray cluster to join; none: "
                                      "$RAY_ADDRESS, else a local one")
    log_dir: str = setting("automl_jobs", help="submitit's folder for job scripts and logs")
    restarts: int = setting(3, lo=0, hi=100, help="restarts of a worker process that dies, per "
                            "job; its running trial is re-run by another worker")

    def __post_init__(self) -> None:
        for key in ("partition", "account", "ray_address", "log_dir"):
            if _CONTROL.search(getattr(self, key) or ""):
                raise ValueError(f"{key}: contains a line break or another control character")
        for key, value in self.sbatch.items():
            if not _SBATCH_KEY.fullmatch(key):
                raise ValueError(f"sbatch: {key[:40]!r} is not an #SBATCH option name "
                                 "(letters, digits, '-' and '_')")
            if isinstance(value, dict | list | tuple) or value is None:
                raise ValueError(f"sbatch.{key}: expected a string, a number or true/false")
            if _CONTROL.search(str(value)):
                raise ValueError(f"sbatch.{key}: contains a line break or another control "
                                 "character")
