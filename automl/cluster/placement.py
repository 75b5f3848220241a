"""Pure decisions of the launchers: each job's command line and environment, how many worker
processes a job packs onto its GPUs, and whether the workers can all reach the database."""

from __future__ import annotations

import os
from collections.abc import Sequence

from automl.errors import ConfigError
from automl.storage.capacity import HELD_PER_WORKER, Connections

# Options of the launching command that a job's worker must not see again.
LAUNCH_OPTIONS = ("--launcher", "--workers", "--gpus-per-worker", "--cpus-per-worker",
                  "--ray-address")
LOOPBACK = ("localhost", "127.0.0.1", "::1", "")
POOL_SIZE = "1"  # per engine, per worker process: see automl/storage/capacity.py
LEASE_S_PER_WORKER = 10.0


def worker_argv(argv: Sequence[str], processes: int) -> list[str]:
    """``automl search`` arguments for one job: the launching command's own, run quietly as
    ``processes`` local workers. The launch options go (``--set`` ones included: they would
    win over the flags appended here)."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in LAUNCH_OPTIONS:
            next(args, None)
        elif arg == "--set":
            value = next(args, "")
            if not _launch_override(value):
                out += [arg, value]
        elif not (arg == "--quiet" or arg.startswith(tuple(f"{o}=" for o in LAUNCH_OPTIONS))
                  or (arg.startswith("--set=") and _launch_override(arg[len("--set="):]))):
            out.append(arg)
    return [*out, "--quiet", "--launcher", "local", "--workers", str(processes)]


def _launch_override(item: str) -> bool:
    key = item.partition("=")[0].strip()
    return key.startswith("cluster.") or key == "study.workers"


def processes_per_job(gpus_per_worker: int, nproc: int) -> int:
    """Trials of ``nproc`` GPUs each that one job runs side by side on its GPUs (1 on CPU)."""
    if gpus_per_worker == 0:
        return 1
    if gpus_per_worker < nproc:
        raise ConfigError(
            f"cluster.gpus_per_worker: {gpus_per_worker} GPUs cannot hold one trial of "
            f"trainer.nproc = {nproc} processes; ask for at least {nproc}"
        )
    return gpus_per_worker // nproc


def job_env(index: int, started_wall: float, processes: int) -> dict[str, str]:
    """What a job adds to its environment: the AUTOML_* settings of the launching command
    (Ray workers do not inherit it), its worker index, the search's start (one --timeout
    deadline for all), a pool of one connection per engine, and a wait for the claim lock that
    grows with the ``processes`` workers taking turns at it."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AUTOML_")}
    env.update({"AUTOML_WORKER": f"job{index}", "AUTOML_SEARCH_STARTED": repr(started_wall)})
    env.setdefault("AUTOML_DB_POOL_SIZE", POOL_SIZE)
    env.setdefault("AUTOML_DB_LEASE_WAIT", str(lease_wait(processes)))
    return env


def lease_wait(processes: int) -> float:
    """Seconds a worker may wait for the claim lock: each holder keeps it for well under a
    second, ``LEASE_S_PER_WORKER`` allows for a loaded database (measured in
    benchmarks/RESULTS.md)."""
    return max(120.0, LEASE_S_PER_WORKER * processes)


def check_reachable(launcher: str, is_sqlite: bool, host: str | None, machines: int,
                    where: str) -> None:
    """Refuse a database that some of the workers could not reach: a SQLite file, or a server
    on this machine's loopback address, when the workers may run on other machines."""
    if machines <= 1:
        return
    if is_sqlite:
        raise ConfigError(
            f"cluster.launcher: {launcher!r} runs workers on other machines ({where}), which "
            "cannot share the SQLite file; use a PostgreSQL database they all reach (--storage "
            "postgresql+psycopg://user:pass@host/db), or slurm-local / a local Ray cluster"
        )
    if (host or "") in LOOPBACK:
        raise ConfigError(
            f"study.storage: the database host {host or 'localhost'!r} is this machine's own "
            f"address; {launcher} workers on other machines ({where}) cannot reach it; give "
            "the database's network name"
        )


def check_capacity(conns: Connections | None, processes: int) -> None:
    """Refuse to start more workers than the server has connections for."""
    if conns is None:
        return
    need = processes * HELD_PER_WORKER
    if need > conns.free:
        most = conns.free // HELD_PER_WORKER
        raise ConfigError(
            f"study.workers: {processes} worker processes hold about {need} database "
            f"connections; the server has {conns.free} free of {conns.limit} "
            f"(max_connections); use at most {most} workers, or raise max_connections"
        )
