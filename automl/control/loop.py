"""The worker loop: claim a trial under the study's claim lock, run it with a heartbeat, tell
Optuna.

The loop's policy is here (what counts, when to claim, wait or stop); each step that touches the
database (the claim's few statements, recovering dead trials, heartbeats, re-queueing) is
:mod:`automl.storage.claims`' or :mod:`automl.storage.lifecycle`'s.

Replaces ``study.optimize`` so that any number of workers (processes or machines) and restarted
workers stop at exactly the run's target:

* a trial *counts* once finished: COMPLETE, PRUNED, or FAIL for a reason of its own (the builder
  raised, out of memory...). A trial killed with its process (heartbeat gone stale), stopped by
  Ctrl-C / SIGTERM, or failed by the database does not count, and its candidate (the queued
  parameters it was asked with plus those it sampled) is queued again (WAITING);
* signals are held while the loop writes to the database and raised only in training, waiting,
  or between trials (see :mod:`automl.control.interrupts`), so no trial is left RUNNING by Ctrl-C;
* a worker claims a new trial only while ``finished + running < requested`` (counted over the
  run's own trials); queued candidates are
  taken first; when everything left is running elsewhere it waits, so a peer that dies is
  noticed (its heartbeat goes stale) and its candidate re-run;
* the lock is held for a count (one grouped SELECT of the run's trials) and the start of one
  trial, tagged with the run; the first heartbeat, the sampler and the look for dead trials
  (one worker of the study a second) are outside it, so hundreds of workers take turns quickly.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.control import interrupts
from automl.errors import StorageError
from automl.policy.budget import Deadline
from automl.storage import lifecycle
from automl.storage.claims import Claims, run_turn
from automl.storage.lifecycle import INTERRUPTED, RETRY_ATTR, Claimed
from automl.storage.runs import Run, finish_run

if TYPE_CHECKING:
    import optuna

    from automl.storage import Storage

__all__ = ["INTERRUPTED", "RETRY_ATTR", "RUN_ATTR", "STORAGE_RETRIES", "WORKER", "Claimed",
           "Tally", "counts", "finished_in_study", "optimize", "queue_turn", "tally"]

WORKER = f"{socket.gethostname()}:{os.getpid()}"
RUN_ATTR = "automl_run"
STORAGE_RETRIES = 3  # a candidate failed by the database runs again at most this many times


@dataclass(frozen=True)
class Tally:
    finished: int
    running: int
    waiting: int


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts towards a run's target (see the module docstring)."""
    return counts_as(trial.state.name, trial.user_attrs.get("reason"))


def counts_as(state: str, reason: object) -> bool:
    """:func:`counts` from a trial's state name and its ``reason`` user attribute."""
    if state in ("COMPLETE", "PRUNED"):
        return True
    if state == "FAIL":
        return bool(reason) and not str(reason).startswith(INTERRUPTED)
    return False


def tally(trials: Sequence[optuna.trial.FrozenTrial], run_id: int) -> Tally:
    """Finished (counting) and running trials of one run, and queued candidates of the study."""
    return tally_states((t.state.name, t.user_attrs.get("reason"), 1) for t in trials
                        if t.state.name == "WAITING" or t.user_attrs.get(RUN_ATTR) == run_id)


def tally_states(states: Iterable[tuple[str, Any, int]]) -> Tally:
    """:func:`tally` from (state, reason, count) rows: a run's trials and the study's queued
    ones (:meth:`automl.storage.claims.Turn.states`)."""
    finished = running = waiting = 0
    for state, reason, n in states:
        if state == "WAITING":
            waiting += n
        elif state == "RUNNING":
            running += n
        elif counts_as(state, reason):
            finished += n
    return Tally(finished, running, waiting)


@contextlib.contextmanager
def queue_turn(study: optuna.Study, run: Run, storage: Storage | None = None
               ) -> Iterator[Tally]:
    """The run's :func:`tally`, for a callback that queues candidates to fit the run's room.
    With ``storage`` it is counted under the study's claim lock, held until the block ends, so
    no worker claims between the count and the queueing (:func:`automl.storage.claims.run_turn`);
    without it (one process) from the study's trials."""
    if storage is None:
        yield tally(study.get_trials(deepcopy=False), run.id)
        return
    with run_turn(storage, study.study_name, RUN_ATTR, run.id) as rows:
        yield tally_states(rows)


def finished_in_study(trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    return sum(1 for t in trials if counts(t))


ProgressHook = Callable[[Tally, int], None]


def _claim(claims: Claims, run: Run, on_tally: ProgressHook | None) -> Claimed | str:
    """A new trial to run, or "done", or "wait" (others are finishing the last trials)."""
    started = None
    with claims.locked() as turn:
        now = tally_states(turn.states())
        if now.finished + now.running < run.requested:
            started = turn.start({"worker": WORKER})
    if on_tally is not None:  # the counts the decision read; the hook runs after the lock
        on_tally(now, run.requested)
    if started is not None:
        return claims.open(started)
    if now.finished >= run.requested:
        finish_run(claims.storage, run.id)
        return "done"
    return "wait"


def _run_one(study: optuna.Study, storage: Storage, claimed: Claimed,
             objective: Callable[[Any], Any], on_interrupt: Callable[[optuna.Trial], None]
             ) -> optuna.trial.FrozenTrial:
    import optuna
    from optuna.trial import TrialState

    trial, tid = claimed.trial, claimed.trial_id
    told = None  # what tell() stored, when it was the last write: no read again
    with lifecycle.heartbeat(storage, tid, beat_now=False):  # the claim beat just now
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            told = study.tell(trial, state=TrialState.PRUNED)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (raised where safe: interrupts)
            lifecycle.requeue(storage, study, trial, tid, INTERRUPTED, on_interrupt)
            raise
        except StorageError as exc:  # the database failed, not the candidate: run it again
            tries = int(lifecycle.frozen(storage, tid).user_attrs.get("storage_retries", 0))
            if tries >= STORAGE_RETRIES:
                told = study.tell(trial, state=TrialState.FAIL)  # counts: it keeps failing
            else:
                lifecycle.requeue(storage, study, trial, tid, f"{INTERRUPTED}: {exc}"[:1000],
                                  on_interrupt, {"storage_retries": tries + 1})
        except Exception:  # the objective stored the reason; one bad trial never stops a run
            told = study.tell(trial, state=TrialState.FAIL)
        else:
            told = study.tell(trial, values)
    return told if told is not None else lifecycle.frozen(storage, tid)


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
        claims = Claims(storage, study, RUN_ATTR, run.id)
        while deadline.can_start():
            interrupts.checkpoint()  # no trial of this worker is open here
            claimed = _claim(claims, run, on_tally)
            if claimed == "done":
                break
            if claimed == "wait":
                with interrupts.interruptible():
                    time.sleep(min(poll_s, max(0.0, deadline.remaining())))
                continue
            assert not isinstance(claimed, str)
            frozen = _run_one(study, storage, claimed, objective, on_interrupt)
            ran += 1
            for cb in callbacks:
                cb(study, frozen)
    return ran
