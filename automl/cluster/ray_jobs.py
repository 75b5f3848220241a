"""``--launcher ray``: the workers as Ray tasks on the cluster ``ray.init(address=...)`` joins.

Each task asks Ray for ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs (Ray sets the
task's ``CUDA_VISIBLE_DEVICES``) and runs :class:`~automl.cluster.job.WorkerJob`: the same
worker loop, the same database. Without an address (no ``--ray-address``, no ``$RAY_ADDRESS``)
Ray starts a cluster on this machine for the search and stops it at the end.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from automl.cluster.job import WorkerJob, run_job
from automl.errors import ConfigError


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("cluster.launcher: ray needs Ray; install it with: pip install "
                          "'automl-nas[ray]'") from None
    return ray


def connect(address: str | None, local_cpus: int) -> tuple[int, str]:
    """Join the Ray cluster at ``address`` (else ``$RAY_ADDRESS``), or start one on this
    machine with ``local_cpus`` CPUs (what the workers ask for); returns the number of machines
    involved (this one included) and a description for messages."""
    ray = _ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    sized = {} if address else {"num_cpus": local_cpus}
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, ignore_reinit_error=True, **sized)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cluster.ray_address: cannot join the Ray cluster at "
                          f"{address!r}: {str(exc).strip().splitlines()[0][:200]}") from None
    # This machine counts too: a one-node cluster elsewhere cannot read a local SQLite file.
    hosts = {n.get("NodeManagerAddress") for n in ray.nodes() if n.get("Alive")}
    machines = len(hosts | {ray.util.get_node_ip_address()})
    where = f"Ray cluster at {address}" if address else "a local Ray cluster"
    return machines, f"{where}, {len(hosts)} node(s)"


class RayJobs:
    """The submitted tasks: ids, how many still run, cancel."""

    def __init__(self, refs: Sequence[Any]) -> None:
        self.refs = list(refs)
        self.kind = "ray"

    @property
    def ids(self) -> list[str]:
        return [ref.task_id().hex()[:16] for ref in self.refs]

    def running(self) -> int:
        ray = _ray()
        _, pending = ray.wait(self.refs, num_returns=len(self.refs), timeout=0)
        return len(pending)

    def cancel(self) -> None:
        ray = _ray()
        for ref in self.refs:
            ray.cancel(ref)  # KeyboardInterrupt in the task: its worker is stopped cleanly

    def failures(self) -> list[str]:
        ray = _ray()
        done, _ = ray.wait(self.refs, num_returns=len(self.refs), timeout=0)
        out = []
        for ref in done:
            try:
                rc = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - reported, one line each
                out.append(f"task {ref.task_id().hex()[:16]}: {str(exc).splitlines()[0][:200]}")
                continue
            if rc != 0:
                out.append(f"task {ref.task_id().hex()[:16]}: worker exited with {rc}")
        return out

    def close(self) -> None:
        _ray().shutdown()  # disconnects; stops the cluster only if this command started it


def submit(jobs: Sequence[WorkerJob], cpus: int, gpus: int) -> RayJobs:
    ray = _ray()
    task = ray.remote(run_job).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
    return RayJobs([task.remote(job) for job in jobs])
