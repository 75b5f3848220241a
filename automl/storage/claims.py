"""Claiming a trial of a shared study: the few statements that must not interleave between
workers, and the work around them that need not wait for the others.

Under the study's claim lock (:func:`automl.storage.runs.claim_lock`) a worker counts its run's
trials (one grouped SELECT), and, when the run needs another, pops a queued candidate or creates
a trial, tagged with the run in the same step, so that the next worker's count sees it. A new
trial is created on the lock's own connection, in its transaction
(:mod:`automl.storage.optuna_trial`), with its first heartbeat. Outside it: a queued trial's
first heartbeat and other attributes, the ``optuna.Trial`` (its sampler), and the look for
dead trials (heartbeat gone stale, or never sent), which one worker of the study does at most
once a second (:func:`automl.storage.runs.take_turn`). The dead trials it finds are failed and
queued again under the lock, so no claim sees a dead trial's place free before its candidate is
queued (and runs it first).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from automl.storage.lifecycle import (
    INTERRUPTED,
    Claimed,
    first_heartbeat,
    heartbeats_enabled,
    requeue,
)
from automl.storage.optuna_private import remember_trial
from automl.storage.optuna_tables import dead_trial_ids, run_states, waiting_trial_ids
from automl.storage.optuna_trial import insert_running_trial
from automl.storage.reconcile import reconcile_trials
from automl.storage.runs import claim_lock, ensure_lock, take_turn

if TYPE_CHECKING:
    import optuna
    from sqlalchemy.engine import Connection

    from automl.storage.store import Storage

RECOVER_EVERY_S = 1.0  # study-wide, and per worker: how often dead trials are looked for


@dataclass(frozen=True)
class Started:
    """A trial started under the claim lock: a queued candidate (``popped``) or a new one
    (``trial``: as created, so that no read is needed to open it)."""

    trial_id: int
    popped: bool
    attrs: dict[str, Any] = field(default_factory=dict)  # still to set, after the lock
    trial: optuna.trial.FrozenTrial | None = None


def claim_lock_name(study_name: str) -> str:
    """The name of ``study_name``'s claim lock (:func:`automl.storage.runs.claim_lock`)."""
    return f"claim:{study_name}"


@contextlib.contextmanager
def run_turn(storage: Storage, study_name: str, key: str, value: Any
             ) -> Iterator[list[tuple[str, Any, int]]]:
    """Hold the study's claim lock while the caller queues candidates for the run tagged
    ``key = value``; yields the (state, reason, count) rows a claim counts (:meth:`Turn.states`),
    read under the lock. No worker claims between that count and the queueing, so candidates
    queued to fit the run's room all run: counted outside it, a peer that had just finished a
    trial could claim a new one in between, and a queued candidate was left waiting when the
    run met its target."""
    study_id = storage.study_id(study_name)
    with claim_lock(storage, claim_lock_name(study_name)) as conn:
        yield run_states(conn, study_id, key, json.dumps(value))


class Claims:
    """One worker's claims on one study for the run tagged ``key = value`` (a user attribute)."""

    def __init__(self, storage: Storage, study: optuna.Study, key: str, value: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.storage, self.study, self.key, self.value = storage, study, key, value
        self.study_id = storage.study_id(study.study_name)
        self._lock, self._turn = claim_lock_name(study.study_name), f"recover:{study.study_name}"
        self._clock, self._next_look = clock, float("-inf")
        ensure_lock(storage, self._turn)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Turn]:
        """The critical section of a claim: count with :meth:`Turn.states`, then maybe
        :meth:`Turn.start` a trial. Dead trials are looked for first, outside the lock."""
        dead = self.dead_if_due()
        with claim_lock(self.storage, self._lock) as conn:
            if dead:
                fail_dead(self.storage, self.study, dead)
            yield Turn(self, conn)
        if dead is not None:  # this worker's turn to look: bring the project's rows in line
            reconcile_trials(self.storage, self.study.study_name)

    def dead_if_due(self) -> list[int] | None:
        """Dead trials of the study, if it is this worker's turn to look (None if not): at
        most once a :data:`RECOVER_EVERY_S` for this worker and for the whole study."""
        now = self._clock()
        if now < self._next_look:
            return None
        self._next_look = now + RECOVER_EVERY_S
        if not take_turn(self.storage, self._turn, RECOVER_EVERY_S):
            return None
        rdb = self.storage._optuna
        if rdb.get_heartbeat_interval() is None:
            return []
        grace = rdb.grace_period or 2 * (rdb.heartbeat_interval or 1)
        with self.storage.connection() as conn:
            return dead_trial_ids(conn, self.study_id, grace)

    def open(self, started: Started) -> Claimed:
        """Beat once for a trial :meth:`Turn.start` gave, give it the rest of its attributes
        and build its ``optuna.Trial``; if that fails, the trial is failed and its candidate
        queued again. Outside the lock: a worker that dies here leaves a trial that never
        beat, which the next look for dead trials fails and re-queues."""
        import optuna

        trial_id = started.trial_id
        try:
            if started.trial is None:  # a new trial beat as it was created
                first_heartbeat(self.storage, trial_id)
            for key, value in started.attrs.items():
                self.storage._optuna.set_trial_user_attr(trial_id, key, value)
            # Suggesting needs the study's trial cache to know the trial.
            remember_trial(self.study, started.trial or self.storage._optuna.get_trial(trial_id))
            trial = optuna.Trial(self.study, trial_id)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: the database may be the cause
                requeue(self.storage, self.study, None, trial_id, INTERRUPTED)
            raise
        return Claimed(trial, trial_id)


class Turn:
    """What a worker may do while it holds the claim lock."""

    def __init__(self, claims: Claims, conn: Connection) -> None:
        self._claims, self._conn = claims, conn
        self._queued: bool | None = None  # unknown until counted

    def states(self) -> list[tuple[str, Any, int]]:
        """(state, reason, count) of the run's trials, and the study's queued ones (see
        :func:`automl.storage.optuna_tables.run_states`)."""
        c = self._claims
        rows = run_states(self._conn, c.study_id, c.key, json.dumps(c.value))
        self._queued = any(state == "WAITING" for state, _, _ in rows)
        return rows

    def start(self, attrs: dict[str, Any]) -> Started:
        """Start a trial of the run, tagged with it before the lock is given back: the first
        queued candidate, else a new trial. A new trial gets ``attrs`` in the same INSERT as
        its tag; a queued one gets them in :meth:`Claims.open`, after the lock (every write
        under it is a round trip that all workers wait for)."""
        import optuna

        c = self._claims
        rdb = c.storage._optuna
        # Counted just now, under this lock: none queued then, none to look for.
        queued = [] if self._queued is False else waiting_trial_ids(self._conn, c.study_id)
        for trial_id in queued:
            try:
                if not rdb.set_trial_state_values(trial_id, state=optuna.trial.TrialState.RUNNING):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # finished by whoever queued it
            rdb.set_trial_user_attr(trial_id, c.key, c.value)
            return Started(trial_id, True, attrs)
        trial = insert_running_trial(self._conn, c.study_id, {c.key: c.value, **attrs},
                                     beat=heartbeats_enabled(c.storage))
        return Started(trial._trial_id, False, {}, trial)


def fail_dead(storage: Storage, study: optuna.Study, trial_ids: list[int]) -> int:
    """Fail the trials whose workers died, and queue their candidates again through the
    storage's stale-trial callback (as ``optuna.storages.fail_stale_trials`` does); a trial
    another worker finished or failed first is left alone. Returns how many were failed."""
    import optuna
    from optuna.trial import TrialState

    rdb = storage._optuna
    callback = rdb.get_heartbeat_stale_trial_callback()
    failed = 0
    for tid in trial_ids:
        try:
            if not rdb.set_trial_state_values(tid, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        failed += 1
        if callback is not None:
            callback(study, rdb.get_trial(tid))
    return failed
