"""The ``[cluster]`` section of a study file: where the workers of a search run.

Plain data, no heavy imports: :mod:`automl.config` registers it beside the other sections, and
the launchers read it. ``study.workers`` stays the worker count for every launcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automl._validate import Bound

LAUNCHERS = ("local", "slurm", "slurm-local", "ray")
# Launchers whose workers may run on other machines than the one holding a SQLite file.
REMOTE_LAUNCHERS = ("slurm", "ray")


@dataclass(frozen=True)
class ClusterSection:
    """How ``automl search`` runs its ``study.workers`` workers (see README "On a cluster")."""

    # local: processes on this machine (today's behaviour); slurm: a Slurm job array through
    # submitit; slurm-local: the same submitit jobs as local processes; ray: Ray tasks.
    launcher: str = "local"
    gpus_per_worker: int = 0  # each worker packs trials of trainer.nproc GPUs onto its own
    cpus_per_worker: int = 1
    # Slurm: partition, time limit (minutes; the job requeues itself before it), account, and
    # any other #SBATCH option by its long name (e.g. {qos = "high", constraint = "a100"}).
    partition: str | None = None
    time_limit_min: int = 240
    account: str | None = None
    sbatch: dict[str, Any] = field(default_factory=dict)
    setup: tuple[str, ...] = ()  # shell lines run before each job (module load ..., source ...)
    # Ray: the cluster ray.init(address=...) joins; default $RAY_ADDRESS, else a local one.
    ray_address: str | None = None
    # submitit's folder for job scripts and logs (relative: to the current directory).
    log_dir: str = "automl_jobs"
    # A worker process that dies (killed, out of memory) is started again this many times per
    # job; its running trial is re-run by whichever worker claims it next.
    restarts: int = 3


CHOICES: dict[str, tuple[Any, ...]] = {"launcher": LAUNCHERS}
RANGES: dict[str, Bound] = {
    "gpus_per_worker": Bound(0, 1024),
    "cpus_per_worker": Bound(1, 4096),
    "time_limit_min": Bound(1, 525_600),
    "restarts": Bound(0, 100),
}
