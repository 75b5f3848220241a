"""A trial's life in a shared study, as the database sees it: claimed (see
:mod:`automl.storage.claims`), kept alive by a heartbeat, failed and queued again when its
worker dies or is stopped.

The worker loop (:mod:`automl.control.loop`) decides *when* to claim and what counts; the
steps that touch Optuna's storage are here, through Optuna's public API (see
:mod:`automl.storage.optuna_private` for the exceptions).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.storage.optuna_private import enqueued_params

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
    starts must not leave its trial RUNNING forever (the look for dead trials of
    :mod:`automl.storage.claims` covers the gap before this beat)."""
    if heartbeats_enabled(storage):
        storage._optuna.record_heartbeat(trial_id)


@contextlib.contextmanager
def heartbeat(storage: Storage, trial_id: int, beat_now: bool = True) -> Iterator[None]:
    """Beat for ``trial_id`` every heartbeat interval while the block runs (nothing without
    heartbeats), as ``Study.optimize`` does for its own trials. ``beat_now`` False: the first
    beat one interval in (the claim has just beaten: three statements saved a trial)."""
    rdb = storage._optuna
    interval = rdb.get_heartbeat_interval()
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        if not beat_now and stop.wait(timeout=interval):
            return
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


def requeue(storage: Storage, study: optuna.Study, trial: optuna.Trial | None, trial_id: int,
            reason: str, on_interrupt: Callable[[optuna.Trial], None] | None = None,
            attrs: dict[str, Any] | None = None) -> None:
    """Fail a trial that was stopped from outside (it does not count) and queue its candidate
    again: the parameters it was queued with, plus those it had sampled. ``trial`` None: one
    stopped before its ``optuna.Trial`` was built."""
    from optuna.trial import TrialState

    now = frozen(storage, trial_id)
    if now.state.is_finished():
        return
    params = {**enqueued_params(now), **now.params}
    if trial is None:
        storage._optuna.set_trial_user_attr(trial_id, "reason", reason)
        study.tell(now.number, state=TrialState.FAIL)
    else:
        trial.set_user_attr("reason", reason)
        if on_interrupt is not None:
            on_interrupt(trial)
        study.tell(trial, state=TrialState.FAIL)
    study.enqueue_trial(params, user_attrs={RETRY_ATTR: now.number, **(attrs or {})},
                        skip_if_exists=False)
