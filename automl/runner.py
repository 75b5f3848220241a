"""The worker loop: claim a trial under a lease, run it with a heartbeat, tell Optuna.

Replaces ``study.optimize`` so that any number of workers (processes or machines) and restarted
workers stop at exactly the run's target:

* a trial *counts* once finished: COMPLETE, PRUNED, or FAIL for a reason of its own (the builder
  raised, out of memory...). A trial killed with its process (heartbeat gone stale), stopped by
  Ctrl-C / SIGTERM, or failed by the database does not count, and its candidate (the queued
  parameters it was asked with plus those it sampled) is queued again (WAITING);
* signals are held while the loop writes to the database and raised only in training, waiting,
  or between trials (see :mod:`automl.interrupts`), so no trial is left RUNNING by Ctrl-C;
* a worker claims a new trial only while ``finished + running < requested`` (counted over the
  run's own trials); queued candidates are
  taken first; when everything left is running elsewhere it waits, so a peer that dies is
  noticed (its heartbeat goes stale) and its candidate re-run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl import interrupts
from automl.budget import Deadline
from automl.errors import StorageError
from automl.storage.reconcile import reconcile_trials
from automl.storage.runs import Run, finish_run, lease

if TYPE_CHECKING:
    import optuna

    from automl.storage import Storage

INTERRUPTED = "interrupted"
WORKER = f"{socket.gethostname()}:{os.getpid()}"
RUN_ATTR = "automl_run"
RETRY_ATTR = "retry_of"  # user attribute of a re-queued candidate: the trial it re-runs
STORAGE_RETRIES = 3  # a candidate failed by the database runs again at most this many times


@dataclass(frozen=True)
class Tally:
    finished: int
    running: int
    waiting: int


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts towards a run's target (see the module docstring)."""
    state = trial.state.name
    if state in ("COMPLETE", "PRUNED"):
        return True
    if state == "FAIL":
        reason = trial.user_attrs.get("reason")
        return bool(reason) and not str(reason).startswith(INTERRUPTED)
    return False


def tally(trials: Sequence[optuna.trial.FrozenTrial], run_id: int) -> Tally:
    """Finished (counting) and running trials of one run, and queued candidates of the study."""
    finished = running = waiting = 0
    for t in trials:
        if t.state.name == "WAITING":
            waiting += 1
        elif t.user_attrs.get(RUN_ATTR) == run_id:
            if t.state.name == "RUNNING":
                running += 1
            elif counts(t):
                finished += 1
    return Tally(finished, running, waiting)


def finished_in_study(trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    return sum(1 for t in trials if counts(t))


ProgressHook = Callable[[Tally, int], None]


def _claim(study: optuna.Study, storage: Storage, run: Run, on_tally: ProgressHook | None
           ) -> optuna.Trial | str:
    """A new trial to run, or "done", or "wait" (others are finishing the last trials)."""
    from optuna.storages import fail_stale_trials
    from optuna.storages._heartbeat import is_heartbeat_enabled

    with lease(storage, f"study:{study.study_name}"):
        if is_heartbeat_enabled(study._storage):
            _fail_orphans(study, storage)
        fail_stale_trials(study)  # no-op without heartbeats; else re-queues dead trials
        reconcile_trials(storage, study.study_name)  # project rows of dead trials: not RUNNING
        now = tally(study.get_trials(deepcopy=False), run.id)
        if on_tally is not None:
            on_tally(now, run.requested)
        if now.finished >= run.requested:
            finish_run(storage, run.id)
            return "done"
        if now.finished + now.running >= run.requested:
            return "wait"
        with warnings.catch_warnings():
            # Optuna warns that heartbeats are meant for Study.optimize; this loop runs the
            # same heartbeat thread itself (see _run_one).
            warnings.simplefilter("ignore", UserWarning)
            trial = study.ask()  # takes a queued (WAITING) candidate, e.g. a retry, first
        try:
            if is_heartbeat_enabled(study._storage):
                # Optuna ignores a RUNNING trial that never sent a heartbeat when it looks for
                # dead ones, so beat once now: a worker killed before its heartbeat thread
                # starts must not leave its trial RUNNING forever.
                storage.optuna.record_heartbeat(trial._trial_id)
            trial.set_user_attr(RUN_ATTR, run.id)
            trial.set_user_attr("worker", WORKER)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: the database may be the cause
                requeue(study, trial, INTERRUPTED)
            raise
        return trial


def requeue(study: optuna.Study, trial: optuna.Trial, reason: str,
            on_interrupt: Callable[[optuna.Trial], None] | None = None,
            attrs: dict[str, Any] | None = None) -> None:
    """Fail a trial that was stopped from outside (it does not count) and queue its candidate
    again: the parameters it was queued with, plus those it had sampled."""
    from optuna.trial import TrialState

    frozen = study._storage.get_trial(trial._trial_id)
    if frozen.state.is_finished():
        return
    params = {**frozen.system_attrs.get("fixed_params", {}), **frozen.params}
    trial.set_user_attr("reason", reason)
    if on_interrupt is not None:
        on_interrupt(trial)
    study.tell(trial, state=TrialState.FAIL)
    study.enqueue_trial(params, user_attrs={RETRY_ATTR: trial.number, **(attrs or {})},
                        skip_if_exists=False)


def _fail_orphans(study: optuna.Study, storage: Storage) -> None:
    """Fail (and re-queue, like a stale trial) trials whose worker died before their first
    heartbeat."""
    import datetime as dt

    import optuna
    from optuna.trial import TrialState

    from automl.storage.optuna_tables import orphan_trial_ids

    rdb = storage.optuna
    grace = rdb.grace_period or 2 * (rdb.heartbeat_interval or 1)
    cutoff = dt.datetime.now() - dt.timedelta(seconds=grace)  # Optuna stores local time
    with storage.engine.connect() as conn:
        orphans = orphan_trial_ids(conn, study.study_name, cutoff)
    callback = rdb.get_heartbeat_stale_trial_callback()
    for trial_id in orphans:
        try:
            if not study._storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        if callback is not None:
            callback(study, study._storage.get_trial(trial_id))


def _run_one(study: optuna.Study, trial: optuna.Trial, objective: Callable[[Any], Any],
             on_interrupt: Callable[[optuna.Trial], None]) -> optuna.trial.FrozenTrial:
    import optuna
    from optuna.storages._heartbeat import get_heartbeat_thread
    from optuna.trial import TrialState

    with get_heartbeat_thread(trial._trial_id, study._storage):
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (raised where safe: automl.interrupts)
            requeue(study, trial, INTERRUPTED, on_interrupt)
            raise
        except StorageError as exc:  # the database failed, not the candidate: run it again
            tries = int(study._storage.get_trial(trial._trial_id).user_attrs.get(
                "storage_retries", 0))
            if tries >= STORAGE_RETRIES:
                study.tell(trial, state=TrialState.FAIL)  # counts: it keeps failing
            else:
                requeue(study, trial, f"{INTERRUPTED}: {exc}"[:1000], on_interrupt,
                        {"storage_retries": tries + 1})
        except Exception:  # the objective stored the reason; one bad trial never stops a run
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, values)
    return study._storage.get_trial(trial._trial_id)


def optimize(
    study: optuna.Study,
    objective: Callable[[Any], Any],
    storage: Storage,
    run: Run,
    *,
    deadline: Deadline | None = None,
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
    on_tally: ProgressHook | None = None,
    on_interrupt: Callable[[optuna.Trial], None] = lambda t: None,
    poll_s: float = 1.0,
) -> int:
    """Run trials until the run's target is met or the deadline leaves no time for another
    candidate (the objective stops running ones at the deadline); returns trials run here."""
    deadline = deadline or Deadline()
    ran = 0
    with interrupts.deferring():
        while deadline.can_start():
            interrupts.checkpoint()  # no trial of this worker is open here
            claimed = _claim(study, storage, run, on_tally)
            if claimed == "done":
                break
            if claimed == "wait":
                with interrupts.interruptible():
                    time.sleep(min(poll_s, max(0.0, deadline.remaining())))
                continue
            assert not isinstance(claimed, str)
            frozen = _run_one(study, claimed, objective, on_interrupt)
            ran += 1
            for cb in callbacks:
                cb(study, frozen)
    return ran
