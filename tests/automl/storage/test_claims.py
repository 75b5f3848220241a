"""The claim's critical section (automl/storage/claims.py, runs.claim_lock / take_turn) on SQLite
and PostgreSQL: exact targets with many threads, queued candidates popped once, dead trials
found outside the lock and re-queued under it (the trial rows it writes:
test_optuna_trial.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from automl.control.loop import RUN_ATTR, Tally, _claim, counts, optimize, tally, tally_states
from automl.errors import StorageError
from automl.storage import Storage
from automl.storage.claims import Claims, Started, fail_dead
from automl.storage.runs import Run, claim_lock, start_or_resume, take_turn

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _study(url: str, name: str, requested: int, **kw: Any) -> tuple[Storage, Any, Run]:
    st = Storage(url, **kw)
    study = st.create_study(name, direction="maximize")
    return st, study, start_or_resume(st, name, "fp", requested, 0)


def _workers(url: str, name: str, run: Run, n: int, trial_s: float = 0.01,
             **kw: Any) -> tuple[list[int], list[BaseException]]:
    """``n`` threads, each a worker with its own Storage, run the loop to the run's end."""
    import optuna

    ran: list[int] = []
    errors: list[BaseException] = []

    def one(seed: int) -> None:
        st = Storage(url, create=False, **kw)
        study = st.load_study(name, sampler=optuna.samplers.RandomSampler(seed=seed))

        def objective(trial: optuna.Trial) -> float:
            x = trial.suggest_float("x", 0.0, 1.0)
            ran.append(trial.number)
            time.sleep(trial_s)
            return x

        try:
            optimize(study, objective, st, run, poll_s=0.05)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            st.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return ran, errors


def test_many_threads_stop_at_exactly_the_target(storage_url: str) -> None:
    st, study, run = _study(storage_url, "exact", 40, heartbeat_interval=1, grace_period=3)
    study.enqueue_trial({"x": 0.5})
    ran, errors = _workers(storage_url, "exact", run, 12, heartbeat_interval=1, grace_period=3)
    assert not errors, errors
    trials = study.get_trials(deepcopy=False)
    assert sum(counts(t) for t in trials) == 40 and len(trials) == 40
    assert Counter(ran).most_common(1)[0][1] == 1  # no trial ran twice
    assert tally(trials, run.id) == Tally(40, 0, 0)
    assert trials[0].params == {"x": 0.5}  # the queued candidate went first
    assert {t.user_attrs[RUN_ATTR] for t in trials} == {run.id}
    assert len({t.user_attrs["worker"] for t in trials}) == 1  # one process: one WORKER name
    st.close()


def test_queued_candidates_are_popped_once(storage_url: str) -> None:
    st, study, run = _study(storage_url, "queue", 10)
    for i in range(10):
        study.enqueue_trial({"x": i / 10})
    ran, errors = _workers(storage_url, "queue", run, 8)
    assert not errors, errors
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 10  # every trial was a queued one: none created beside them
    assert sorted(ran) == list(range(10))
    assert sorted(t.params["x"] for t in trials) == [i / 10 for i in range(10)]
    st.close()


def test_counts_under_the_lock_match_the_loops_rule(storage_url: str) -> None:
    import optuna
    from optuna.trial import TrialState

    st, study, run = _study(storage_url, "tally", 100)
    mine, other = {RUN_ATTR: run.id}, {RUN_ATTR: run.id + 1}
    for state, attrs in [("COMPLETE", mine), ("PRUNED", mine), ("COMPLETE", other),
                         ("FAIL", {**mine, "reason": "out of memory"}),
                         ("FAIL", {**mine, "reason": "interrupted: killed"}),
                         ("FAIL", {**mine, "reason": ""}), ("FAIL", mine),
                         ("RUNNING", mine), ("RUNNING", other), ("WAITING", other)]:
        kw = {"value": 1.0} if state == "COMPLETE" else {}
        study.add_trial(optuna.trial.create_trial(state=TrialState[state], user_attrs=attrs,
                                                  **kw))
    claims = Claims(st, study, RUN_ATTR, run.id)
    with claims.locked() as turn:
        now = tally_states(turn.states())
    assert now == tally(study.get_trials(deepcopy=False), run.id) == Tally(3, 1, 1)
    st.close()


def test_a_dead_workers_trial_is_found_outside_the_lock_and_requeued(storage_url: str) -> None:
    """A worker that claimed, beat once and died: the next look (taken while another worker
    holds the claim lock) finds it; the next claim fails it, and runs its candidate first."""
    from sqlalchemy import create_engine, text

    st, study, run = _study(storage_url, "dead", 2, heartbeat_interval=1, grace_period=1)
    dead = Claims(st, study, RUN_ATTR, run.id)
    claimed = _claim(dead, run, None)
    assert not isinstance(claimed, str)
    claimed.trial.suggest_int("k", 0, 9)
    engine = create_engine(storage_url)  # the beat moved back: its worker went quiet
    with engine.begin() as conn:
        conn.execute(text("UPDATE trial_heartbeats SET heartbeat = :t WHERE trial_id = :i"),
                     {"t": datetime.now() - timedelta(days=1), "i": claimed.trial_id})
    engine.dispose()
    time.sleep(1.1)  # the study-wide turn to look comes round again
    peer = Claims(st, study, RUN_ATTR, run.id)
    held, found = threading.Event(), []

    def look() -> None:
        held.wait()
        found.append(peer.dead_if_due())

    looker = threading.Thread(target=look)
    looker.start()
    with claim_lock(st, f"claim:{study.study_name}"):
        held.set()
        looker.join(timeout=20)
    assert found == [[claimed.trial_id]]
    with claim_lock(st, f"claim:{study.study_name}"):  # what peer.locked() does next
        assert fail_dead(st, study, found[0]) == 1
    assert fail_dead(st, study, found[0]) == 0  # failed once, queued once
    again = _claim(Claims(st, study, RUN_ATTR, run.id), run, None)
    trials = study.get_trials(deepcopy=False)
    assert trials[claimed.trial.number].state.name == "FAIL"
    assert not isinstance(again, str) and again.trial.number == 1
    assert again.trial.params == {"k": claimed.trial.params["k"]}  # its candidate, re-run
    st.close()


def test_a_worker_that_dies_between_claim_and_open_leaves_a_trial_that_is_requeued(
    storage_url: str,
) -> None:
    from sqlalchemy import create_engine, text

    st, study, run = _study(storage_url, "orphan", 1, heartbeat_interval=1, grace_period=1)
    claims = Claims(st, study, RUN_ATTR, run.id)
    with claims.locked() as turn:
        started = turn.start({"worker": "w"})  # ...and the worker dies before open()
    assert isinstance(started, Started) and not started.popped
    assert _claim(Claims(st, study, RUN_ATTR, run.id), run, None) == "wait"  # still RUNNING
    engine = create_engine(storage_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE trials SET datetime_start = :t WHERE trial_id = :i"),
                     {"t": datetime.now() - timedelta(minutes=5), "i": started.trial_id})
    engine.dispose()
    time.sleep(1.1)  # the study-wide turn to look comes round again
    again = _claim(Claims(st, study, RUN_ATTR, run.id), run, None)
    assert not isinstance(again, str) and again.trial_id != started.trial_id
    assert study.get_trials(deepcopy=False)[0].state.name == "FAIL"
    st.close()


def test_take_turn_gives_one_caller_a_period(storage_url: str) -> None:
    from automl.storage.runs import ensure_lock

    st = Storage(storage_url)
    ensure_lock(st, "job")
    got: list[bool] = []
    threads = [threading.Thread(target=lambda: got.append(take_turn(st, "job", 60.0)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [False] * 7 + [True]
    assert take_turn(st, "short", 0.2) is False  # no row: never anyone's turn
    ensure_lock(st, "short")
    assert take_turn(st, "short", 0.2) and not take_turn(st, "short", 0.2)
    time.sleep(0.25)
    assert take_turn(st, "short", 0.2)
    st.close()


def test_claim_lock_excludes_and_times_out(storage_url: str) -> None:
    st = Storage(storage_url)
    inside, overlaps = [0], []

    def hold() -> None:
        with claim_lock(st, "claim:x", wait=30):
            inside[0] += 1
            overlaps.append(inside[0])
            time.sleep(0.02)
            inside[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 6
    other = Storage(storage_url, create=False)
    with claim_lock(st, "claim:x"), pytest.raises(StorageError, match="could not take lock"):
        with claim_lock(other, "claim:x", wait=0.5):
            pass
    other.close()
    st.close()


@pytest.mark.postgres
@pytest.mark.parametrize("storage_url", ["postgres"], indirect=True)
def test_a_dead_holder_frees_the_claim_lock_at_once(storage_url: str) -> None:
    """On PostgreSQL the lock is the row's: a holder whose connection dies frees it at once
    (the lease would wait for its time-to-live); one stuck idle is cut off after ``ttl``."""
    import psycopg
    from sqlalchemy.engine import make_url

    st = Storage(storage_url)
    with claim_lock(st, "claim:y"):
        pass  # the row exists
    u = make_url(storage_url)
    dead = psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                           dbname=u.database)
    dead.execute("SELECT name FROM automl_locks WHERE name = 'claim:y' FOR UPDATE")
    dead.close()  # the holder's process died
    t0 = time.monotonic()
    with claim_lock(st, "claim:y", wait=5):
        assert time.monotonic() - t0 < 2
    other = Storage(storage_url, create=False)
    stuck, cut = threading.Event(), []

    def stick() -> None:
        try:
            with claim_lock(other, "claim:y", ttl=0.5):
                stuck.set()
                time.sleep(2)  # idle in its transaction past the ttl: the server cuts it off
        except StorageError as exc:
            cut.append(exc)

    t = threading.Thread(target=stick)
    t.start()
    stuck.wait(10)
    t0 = time.monotonic()
    with claim_lock(st, "claim:y", wait=10):
        assert time.monotonic() - t0 < 1.5
    t.join()
    assert cut  # the stuck holder learns it lost the lock
    other.close()
    st.close()
