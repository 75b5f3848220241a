"""A trial's life in a shared study, as the database sees it: claimed under a lease, kept alive
by a heartbeat, failed and queued again when its worker dies or is stopped.

The worker loop (:mod:`automl.control.loop`) decides *when* to claim and what counts; the
steps that touch Optuna's storage are here, through Optuna's public API (see
:mod:`automl.storage.optuna_private` for the one exception).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.storage.optuna_private import enqueued_params
from automl.storage.reconcile import reconcile_trials

if TYPE_CHECKING:
    import optuna

    from automl.storage.store import Storage

RETRY_ATTR = "retry_of"  # user attribute of a re-queued candidate: the trial it re-runs
INTERRUPTED = "interrupted"  # the reason of a trial stopped from outside (it does not count)


@dataclass(frozen=True)
class Claimed:
    """A trial a worker runs, and its id in Optuna's storage."""

    trial: optuna.Trial
    trial_id: int


def claim(storage: Storage, study: optuna.Study, attrs: dict[str, Any]) -> Claimed:
    """Start a trial (a queued candidate, e.g. a retry, first), beat once and tag it with
    ``attrs``; if that fails, the trial is failed and its candidate queued again. Call under
    the study's lease, once the worker loop decided to run another trial."""
    import warnings

    with warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for Study.optimize; the worker loop runs the
        # same heartbeat itself (see heartbeat()).
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    try:
        tid = trial_id(storage, trial)
        first_heartbeat(storage, tid)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the database may be the cause
            requeue(storage, study, trial, trial_id(storage, trial), INTERRUPTED)
        raise
    return Claimed(trial, tid)


def trial_id(storage: Storage, trial: optuna.Trial) -> int:
    """Optuna's storage id of a live trial (what heartbeats and reads are keyed by)."""
    rdb = storage._optuna
    return rdb.get_trial_id_from_study_id_trial_number(
        storage.study_id(trial.study.study_name), trial.number)


def frozen(storage: Storage, trial_id: int) -> optuna.trial.FrozenTrial:
    """A trial as stored now (state, values, attributes)."""
    return storage._optuna.get_trial(trial_id)


def heartbeats_enabled(storage: Storage) -> bool:
    return storage._optuna.get_heartbeat_interval() is not None


def first_heartbeat(storage: Storage, trial_id: int) -> None:
    """Beat once for a just-claimed trial. Optuna ignores a RUNNING trial that never sent a
    heartbeat when it looks for dead ones, so a worker killed before its heartbeat thread
    starts must not leave its trial RUNNING forever (:func:`fail_orphans` covers the gap
    before this beat)."""
    if heartbeats_enabled(storage):
        storage._optuna.record_heartbeat(trial_id)


@contextlib.contextmanager
def heartbeat(storage: Storage, trial_id: int) -> Iterator[None]:
    """Beat for ``trial_id`` every heartbeat interval while the block runs (nothing without
    heartbeats), as ``Study.optimize`` does for its own trials."""
    rdb = storage._optuna
    interval = rdb.get_heartbeat_interval()
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            # A beat the database refused is tried again next interval: a blip must not end
            # the heartbeat and let a peer fail a trial that is still training.
            with contextlib.suppress(Exception):
                rdb.record_heartbeat(trial_id)
            if stop.wait(timeout=interval):
                return

    thread = threading.Thread(target=beat, name=f"automl-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def recover_dead_trials(storage: Storage, study: optuna.Study) -> None:
    """Fail, and queue again, the trials whose workers died (heartbeat gone stale, or never
    sent), and bring the project's rows in line. Call under the study's lease."""
    import warnings

    from optuna.storages import fail_stale_trials

    if heartbeats_enabled(storage):
        fail_orphans(storage, study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental since Optuna 2.9, stable in practice
        fail_stale_trials(study)  # re-queues through the storage's stale-trial callback
    reconcile_trials(storage, study.study_name)  # project rows of dead trials: not RUNNING


def fail_orphans(storage: Storage, study: optuna.Study) -> int:
    """Fail (and re-queue, like a stale trial) trials whose worker died before their first
    heartbeat; returns how many."""
    import datetime as dt

    import optuna
    from optuna.trial import TrialState

    from automl.storage.optuna_tables import orphan_trial_ids

    rdb = storage._optuna
    grace = rdb.grace_period or 2 * (rdb.heartbeat_interval or 1)
    cutoff = dt.datetime.now() - dt.timedelta(seconds=grace)  # Optuna stores local time
    with storage.connection() as conn:
        orphans = orphan_trial_ids(conn, study.study_name, cutoff)
    callback = rdb.get_heartbeat_stale_trial_callback()
    failed = 0
    for tid in orphans:
        try:
            if not rdb.set_trial_state_values(tid, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        failed += 1
        if callback is not None:
            callback(study, rdb.get_trial(tid))
    return failed


def requeue(storage: Storage, study: optuna.Study, trial: optuna.Trial, trial_id: int,
            reason: str, on_interrupt: Callable[[optuna.Trial], None] | None = None,
            attrs: dict[str, Any] | None = None) -> None:
    """Fail a trial that was stopped from outside (it does not count) and queue its candidate
    again: the parameters it was queued with, plus those it had sampled."""
    from optuna.trial import TrialState

    now = frozen(storage, trial_id)
    if now.state.is_finished():
        return
    params = {**enqueued_params(now), **now.params}
    trial.set_user_attr("reason", reason)
    if on_interrupt is not None:
        on_interrupt(trial)
    study.tell(trial, state=TrialState.FAIL)
    study.enqueue_trial(params, user_attrs={RETRY_ATTR: trial.number, **(attrs or {})},
                        skip_if_exists=False)
