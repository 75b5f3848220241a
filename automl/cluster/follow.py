"""The launching command: check, submit the worker jobs, follow the run from the database.

The launching process trains nothing. It creates (or joins) the run the jobs will share, exactly
as a worker would, submits the jobs, prints their ids, and follows the run's trial counts in the
database until the target is met. Ctrl-C once: the jobs keep running (a search on a cluster
outlives the terminal); a second Ctrl-C within a few seconds cancels them, and each stops its
trial cleanly (queued again for the next run of the same command).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from automl.cluster import placement
from automl.cluster.job import WorkerJob
from automl.control.interrupts import Terminated
from automl.errors import AutomlError

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.control.controller import SearchOutcome
    from automl.control.loop import Tally
    from automl.data import PreparedData
    from automl.policy.plan import StudyPlan
    from automl.storage import Storage
    from automl.storage.runs import Run

SECOND_CTRL_C_S = 5.0
END_WAIT_S = 60.0  # after the target is met, workers notice within a poll and exit


class Jobs(Protocol):
    kind: str

    @property
    def ids(self) -> list[str]: ...
    def running(self) -> int: ...
    def cancel(self) -> None: ...
    def failures(self) -> list[str]: ...
    def close(self) -> None: ...


def launch(cfg: StudyConfig, storage: Storage, data: PreparedData, argv: list[str], *,
           started_wall: float, say: Any = None, study_plan: StudyPlan | None = None,
           **_: Any) -> SearchOutcome:
    """Run the search's ``study.workers`` workers through ``cluster.launcher``; return when the
    run's target is met (or its timeout passed). ``say``: print a line for people (None:
    quiet)."""
    from automl.cluster.local import check_backend
    from automl.storage.capacity import database_host, server_connections

    c, n = cfg.cluster, cfg.study.workers
    say = say or (lambda _msg: None)
    procs = placement.processes_per_job(c.gpus_per_worker, cfg.trainer.nproc)
    host = database_host(storage)
    if c.launcher == "slurm":
        placement.check_reachable("slurm", storage.is_sqlite, host, 2, "Slurm nodes")
    elif c.launcher == "ray":
        from automl.cluster import ray_jobs

        machines, where = ray_jobs.connect(c.ray_address, n * c.cpus_per_worker)
        try:
            placement.check_reachable("ray", storage.is_sqlite, host, machines, where)
        except AutomlError:
            ray_jobs.RayJobs([]).close()
            raise
    check_backend(n * procs, storage.is_sqlite)
    placement.check_capacity(server_connections(storage), n * procs)
    study, run = _join_run(cfg, storage, data, study_plan)
    before = _tally(study, run)
    if before.finished >= run.requested:
        return _outcome(cfg, storage, study, run, 0)
    argv_job = placement.worker_argv(argv, procs)
    jobs = [WorkerJob(argv_job, placement.job_env(i, started_wall, n * procs), os.getcwd(),
                      c.restarts, i)
            for i in range(n)]
    handle = _submit(cfg, jobs)
    say(f"{c.launcher}: {n} worker job(s) {', '.join(handle.ids)}"
        + (f"; logs in {os.path.abspath(c.log_dir)}" if handle.kind != "ray" else ""))
    try:
        now = follow(study, run, handle, say)
    except KeyboardInterrupt as exc:
        _interrupted(handle, cfg.study.name, isinstance(exc, Terminated))
    _wait_end(handle)
    handle.close()
    if now.finished < run.requested and cfg.study.timeout is None:
        why = "; ".join(handle.failures()[:2]) or "no job reported an error"
        raise AutomlError(f"the workers ended with {now.finished} of {run.requested} trials "
                          f"finished ({why}); run the same command again to continue")
    return _outcome(cfg, storage, study, run, now.finished - before.finished)


def _submit(cfg: StudyConfig, jobs: list[WorkerJob]) -> Jobs:
    c = cfg.cluster
    if c.launcher == "ray":
        from automl.cluster import ray_jobs

        return ray_jobs.submit(jobs, c.cpus_per_worker, c.gpus_per_worker)
    from automl.cluster import slurm

    return slurm.submit(c, cfg.study.name, jobs)


def _join_run(cfg: StudyConfig, storage: Storage, data: PreparedData,
              study_plan: StudyPlan | None = None) -> tuple[optuna.Study, Run]:
    """Create or join the run the jobs will share, as a worker does (same lease, same key)."""
    import optuna

    from automl.control.controller import fingerprint, open_study
    from automl.control.loop import finished_in_study
    from automl.policy.budget import trial_goal
    from automl.storage.runs import lease, start_or_resume

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # As run_search: heartbeats, group=True and metric names are stable in practice.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    with lease(storage, f"study:{cfg.study.name}"):
        study = open_study(cfg, storage, data, study_plan)
        done = finished_in_study(study.get_trials(deepcopy=False))
        goal = trial_goal(cfg.study.trials, cfg.study.timeout)
        run = start_or_resume(storage, cfg.study.name, fingerprint(cfg), goal, done)
    return study, run


def _tally(study: optuna.Study, run: Run) -> Tally:
    from automl.control.loop import tally

    return tally(study.get_trials(deepcopy=False), run.id)


def follow(study: optuna.Study, run: Run, jobs: Jobs, say: Any, poll_s: float = 1.0) -> Tally:
    """Print the run's counts as they change until its target is met or every job ended."""
    last = None
    while True:
        now, alive = _tally(study, run), jobs.running()
        if (now, alive) != last:
            say(f"{now.finished}/{run.requested} trials finished, {now.running} running; "
                f"{alive} job(s) running")
            last = (now, alive)
        if now.finished >= run.requested or alive == 0:
            return now
        time.sleep(poll_s)


def _wait_end(jobs: Jobs, wait_s: float = END_WAIT_S) -> None:
    deadline = time.monotonic() + wait_s
    while jobs.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    if jobs.running():
        jobs.cancel()  # still queued, or stuck: the run's target is met without them


def _interrupted(jobs: Jobs, study: str, terminated: bool) -> NoReturn:
    ids = " ".join(jobs.ids)
    if jobs.kind == "ray":  # Ray ends a driver's tasks with it: stop them cleanly now
        jobs.cancel()
        _wait_end(jobs)
        jobs.close()
        sys.stderr.write("interrupted: the Ray tasks stopped; their running trials are queued "
                         "again; run the same command again to continue\n")
        raise SystemExit(143 if terminated else 130)
    if not terminated:
        sys.stderr.write(f"interrupted: the jobs keep running; press Ctrl-C again within "
                         f"{SECOND_CTRL_C_S:.0f} s to cancel them\n")
        try:
            time.sleep(SECOND_CTRL_C_S)
        except KeyboardInterrupt:
            jobs.cancel()
            _wait_end(jobs)
            jobs.close()
            sys.stderr.write("cancelled the jobs; their running trials are queued again; run "
                             "the same command again to continue\n")
            raise SystemExit(130) from None
    jobs.close()
    sys.stderr.write(f"detached: jobs {ids} keep running; follow with: automl leaderboard "
                     f"{study}\n")
    raise SystemExit(143 if terminated else 130)


def _outcome(cfg: StudyConfig, storage: Storage, study: optuna.Study, run: Run, ran: int
             ) -> SearchOutcome:
    from automl.control.controller import SearchOutcome

    states: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return SearchOutcome(cfg.study.name, storage.masked_url, ran, states, run.resumed)
