"""Several worker processes on one machine over one study (``automl search --workers N``).

The parent is worker 0 (it shows progress); workers 1..N-1 are the same command, run quietly as
child processes. All of them share the study through the database, and the run's target keeps
the total trial count exact (see :mod:`automl.control.loop`). With GPUs, each worker gets its own
``CUDA_VISIBLE_DEVICES`` slice of ``nproc_per_trial`` devices, so small trials run side by side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from automl.errors import ConfigError

if TYPE_CHECKING:
    from automl.config import StudyConfig
    from automl.control.controller import SearchOutcome

# Wall-clock start of the command that spawned the workers: they share its --timeout deadline.
STARTED_ENV = "AUTOML_SEARCH_STARTED"
SQLITE_MAX_WORKERS = 8  # beyond this, SQLite's single writer makes workers wait more than work


def device_slices(workers: int, nproc: int, gpus: int) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` per worker: disjoint slices of ``nproc`` GPUs (None: no GPUs)."""
    if gpus == 0:
        return [None] * workers
    if workers * nproc > gpus:
        raise ConfigError(
            f"study.workers: {workers} workers x {nproc} processes per trial need "
            f"{workers * nproc} GPUs; this machine has {gpus}"
        )
    return [",".join(str(w * nproc + i) for i in range(nproc)) for w in range(workers)]


def check_backend(workers: int, is_sqlite: bool) -> None:
    if is_sqlite and workers > SQLITE_MAX_WORKERS:
        raise ConfigError(
            f"study.workers: {workers} workers on one SQLite file would mostly wait for its "
            f"lock; use at most {SQLITE_MAX_WORKERS}, or PostgreSQL for more"
        )


def child_argv(argv: Sequence[str]) -> list[str]:
    """The same command line, run quietly as a single worker."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        out.append(arg)
    return [sys.executable, "-m", "automl", *out, "--workers", "1", "--quiet"]


def spawn(argv: Sequence[str], devices: list[str | None], started_wall: float | None = None
          ) -> list[subprocess.Popen[bytes]]:
    """Start workers 1..N-1; worker 0 (this process) takes ``devices[0]``. ``started_wall``
    (``time.time()`` at the command's start) gives every worker the same ``--timeout``
    deadline."""
    started_wall = time.time() if started_wall is None else started_wall
    procs = []
    for index, dev in enumerate(devices[1:], start=1):
        env = {**os.environ, "AUTOML_WORKER": str(index), STARTED_ENV: repr(started_wall)}
        if dev is not None:
            env["CUDA_VISIBLE_DEVICES"] = dev
        procs.append(subprocess.Popen(child_argv(argv), env=env, stdout=subprocess.DEVNULL))
    if devices[0] is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[0]
    return procs


def stop(procs: Sequence[subprocess.Popen[bytes]], sig: int = signal.SIGTERM) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)


def wait(procs: Sequence[subprocess.Popen[bytes]]) -> list[int]:
    return [p.wait() for p in procs]


def search_started(own_start: float | None = None) -> float:
    """``time.monotonic()`` at the start of this search: the parent command's start for a
    worker it spawned (so all workers stop at one deadline), else ``own_start`` (default
    now)."""
    now_wall, now = time.time(), time.monotonic()
    own = now if own_start is None else own_start
    given = os.environ.get(STARTED_ENV) if os.environ.get("AUTOML_WORKER") else None
    try:
        return now - min(600.0, max(0.0, now_wall - float(given))) if given else own
    except ValueError:
        return own


def launch(cfg: StudyConfig, storage: Any, data: Any, argv: list[str], *, started_wall: float,
           here: Callable[[], SearchOutcome], **_: Any) -> SearchOutcome:
    """The ``local`` launcher: run the search loop in this process (``here()``, worker 0) with
    ``study.workers - 1`` worker processes beside it. Workers are stopped on any exception
    (Ctrl-C included) and always waited for."""
    children = start(cfg, storage.is_sqlite, argv, started_wall)
    try:
        return here()
    except BaseException:
        stop(children)
        raise
    finally:
        wait(children)


def start(cfg: StudyConfig, is_sqlite: bool, argv: Sequence[str], started_wall: float
          ) -> list[subprocess.Popen[bytes]]:
    """Start workers 1..N-1 of a local search (none for one worker), each on its own GPUs."""
    from trainer.distributed.nodes import node_settings

    n = cfg.study.workers
    if n <= 1:
        return []
    check_backend(n, is_sqlite)
    try:
        nnodes = node_settings().nnodes
    except ValueError as exc:
        raise ConfigError(f"study.workers: {exc}") from None
    if nnodes > 1:
        raise ConfigError(
            "study.workers: several workers cannot share one multi-node trial (AUTOML_NNODES > 1);"
            " run one worker per node group"
        )
    gpus = 0
    if cfg.trainer.device != "cpu":
        import torch

        gpus = torch.cuda.device_count()
    return spawn(argv, device_slices(n, cfg.trainer.nproc, gpus), started_wall)
