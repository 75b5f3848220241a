"""``--launcher slurm`` and ``slurm-local``: the workers as submitit jobs.

slurm submits one job array of N tasks (one node, ``gpus_per_worker`` GPUs, ``cpus_per_worker``
CPUs each); slurm-local starts the same jobs through submitit's LocalExecutor as processes on
this machine. Either way each job runs :class:`~automl.cluster.job.WorkerJob`, which submitit
checkpoints and requeues on preemption or at the time limit (SIGUSR2, ``signal_delay_s`` before
it).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.cluster.job import WorkerJob
from automl.errors import ConfigError

if TYPE_CHECKING:
    from automl.cluster.settings import ClusterSection

SIGNAL_DELAY_S = 120  # USR2 this long before the time limit: a trial stops and requeues in it


def slurm_parameters(cluster: ClusterSection, name: str) -> dict[str, Any]:
    """submitit ``SlurmExecutor`` parameters for one worker job (pure: tested without Slurm)."""
    params: dict[str, Any] = {
        "job_name": f"automl-{name}"[:64],
        "time": cluster.time_limit_min,
        "nodes": 1,
        "ntasks_per_node": 1,
        "cpus_per_task": cluster.cpus_per_worker,
        "signal_delay_s": SIGNAL_DELAY_S,
        "stderr_to_stdout": True,
    }
    if cluster.gpus_per_worker:
        params["gpus_per_node"] = cluster.gpus_per_worker
    for key in ("partition", "account"):
        if getattr(cluster, key):
            params[key] = getattr(cluster, key)
    if cluster.setup:
        params["setup"] = list(cluster.setup)
    if cluster.sbatch:
        params["additional_parameters"] = {k.replace("-", "_"): v
                                           for k, v in cluster.sbatch.items()}
    return params


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("cluster.launcher: slurm needs submitit; install it with: pip install "
                          "'automl-nas[slurm]'") from None
    return submitit


class SubmititJobs:
    """The submitted jobs: ids, how many still run, cancel."""

    def __init__(self, jobs: Sequence[Any], kind: str) -> None:
        self.jobs = list(jobs)
        self.kind = kind

    @property
    def ids(self) -> list[str]:
        return [str(j.job_id) for j in self.jobs]

    def running(self) -> int:
        return sum(1 for j in self.jobs if not j.done())

    def cancel(self) -> None:
        for j in self.jobs:
            if not j.done():
                j.cancel(check=False)

    def failures(self) -> list[str]:
        """One line per finished job that failed (its log folder says why)."""
        out = []
        for j in self.jobs:
            if not j.done():
                continue
            exc = j.exception()
            if exc is not None:
                out.append(f"job {j.job_id}: {str(exc).strip().splitlines()[-1][:200]}")
            elif j.result() != 0:
                out.append(f"job {j.job_id}: worker exited with {j.result()} "
                           f"(log: {j.paths.stdout})")
        return out

    def close(self) -> None:
        """Let go of the job handles now (jobs outlive the launching command): a handle
        collected at interpreter exit trips over submitit's half-torn-down module."""
        self.jobs.clear()


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point this process's stdout and stderr at ``path`` while a local job starts: submitit's
    local controller inherits them, and its own messages (a traceback when a job is cancelled)
    belong in the job logs, not in the search's output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with path.open("ab") as fh:
            os.dup2(fh.fileno(), 1)
            os.dup2(fh.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def submit(cluster: ClusterSection, name: str, jobs: Sequence[WorkerJob]) -> SubmititJobs:
    """Submit ``jobs`` as one Slurm array, or as local submitit processes (slurm-local)."""
    submitit = _submitit()
    folder = Path(cluster.log_dir).resolve()
    if cluster.launcher == "slurm-local":
        ex = submitit.LocalExecutor(folder=folder)
        out = []
        for i, job in enumerate(jobs):
            g = cluster.gpus_per_worker
            # Disjoint GPUs per job; "" hides every GPU from a CPU-only worker.
            ex.update_parameters(timeout_min=cluster.time_limit_min, gpus_per_node=g,
                                 visible_gpus=list(range(i * g, (i + 1) * g)),
                                 signal_delay_s=SIGNAL_DELAY_S, stderr_to_stdout=True,
                                 setup=list(cluster.setup))
            with _output_to(folder / "controllers.log"):
                out.append(ex.submit(job))
        return SubmititJobs(out, "local")
    try:
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=1000)
    except RuntimeError:  # submitit: 'Could not detect "srun"'
        raise ConfigError("cluster.launcher: 'slurm' needs a Slurm cluster (no srun on this "
                          "machine); use 'slurm-local' to run the jobs here") from None
    ex.update_parameters(**slurm_parameters(cluster, name))
    with ex.batch():  # one job array
        submitted = [ex.submit(job) for job in jobs]
    return SubmititJobs(submitted, "slurm")
