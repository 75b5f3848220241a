"""One trial's rows (automl/storage/optuna_trial.py) on SQLite and PostgreSQL: ``get_trial`` in
one statement gives the FrozenTrial Optuna's six give, and a trial created under the claim lock
is numbered, tagged and cached as Optuna's ``create_new_trial`` would have made it."""

from __future__ import annotations

import math
import threading
from typing import Any

import optuna
import pytest
from sqlalchemy import event, text

from automl.storage import Storage
from automl.storage.optuna_private import remember_trial
from automl.storage.optuna_trial import ProjectRDBStorage, insert_running_trial

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

FIELDS = ("number", "state", "values", "datetime_start", "datetime_complete", "params",
          "distributions", "user_attrs", "system_attrs", "intermediate_values", "_trial_id")


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (intermediate values may be NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _assert_as_optuna(rdb: ProjectRDBStorage, trial_id: int) -> optuna.trial.FrozenTrial:
    mine = rdb.get_trial(trial_id)
    theirs = optuna.storages.RDBStorage.get_trial(rdb, trial_id)
    for f in FIELDS:
        assert _same(getattr(mine, f), getattr(theirs, f)), f
    return mine


def test_get_trial_is_one_statement_and_optunas_trial(storage_url: str) -> None:
    st = Storage(storage_url)
    study = st.create_study("g", directions=["maximize", "minimize"])
    t = study.ask()
    t.suggest_float("x", 0.0, 1.0, log=False)
    t.suggest_int("n", 1, 9)
    t.suggest_categorical("c", ["a", None, 3])
    t.set_user_attr("u", {"a": [1, 2]})
    t.set_user_attr("b", "text")
    st._optuna.set_trial_system_attr(t._trial_id, "s", 1.5)
    for step, v in enumerate([0.5, float("nan"), float("inf"), -float("inf")]):
        st._optuna.set_trial_intermediate_value(t._trial_id, step, v)
    study.tell(t, [float("inf"), -0.25])
    bare = study.ask()  # RUNNING, no child rows at all
    rdb = st._optuna
    assert isinstance(rdb, ProjectRDBStorage)
    statements: list[str] = []
    event.listen(rdb.engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]) if a[2].lstrip().startswith("SELECT")
                 else None)
    done = _assert_as_optuna(rdb, t._trial_id)
    assert done.values == [float("inf"), -0.25] and set(done.params) == {"x", "n", "c"}
    assert math.isnan(done.intermediate_values[1]) and done.intermediate_values[3] == -math.inf
    assert _assert_as_optuna(rdb, bare._trial_id).params == {}
    statements.clear()
    rdb.get_trial(t._trial_id)
    assert len(statements) == 1  # Optuna's own reads it in six
    with pytest.raises(KeyError):
        rdb.get_trial(10**9)
    st.close()


def test_a_trial_inserted_under_the_lock_is_optunas_next(storage_url: str) -> None:
    st = Storage(storage_url)
    study = st.create_study("i", direction="maximize")
    study.tell(study.ask(), 1.0)
    study.enqueue_trial({"x": 0.5})  # a WAITING trial holds number 1
    with st.connection() as conn, conn.begin():
        made = insert_running_trial(conn, st.study_id("i"), {"run": 7, "w": "a"}, beat=True)
    assert made.number == 2 and made.state.name == "RUNNING"
    with st.connection() as conn:  # it beat once, as record_heartbeat would have
        beats = conn.execute(text("SELECT count(*) FROM trial_heartbeats WHERE trial_id = :t"),
                             {"t": made._trial_id}).scalar()
    assert beats == 1
    st._optuna.record_heartbeat(made._trial_id)  # Optuna's next beat updates that row
    seen = _assert_as_optuna(st._optuna, made._trial_id)
    for f in FIELDS:
        assert _same(getattr(made, f), getattr(seen, f)), f
    remember_trial(study, made)  # so this handle's cache knows it: suggest and tell at once
    trial = optuna.Trial(study, made._trial_id)
    trial.suggest_float("y", 0.0, 1.0)
    study.tell(trial, 0.25)
    got = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert got[2].state.name == "COMPLETE" and got[2].user_attrs == {"run": 7, "w": "a"}
    assert got[1].state.name == "WAITING"
    st.close()


def test_trials_made_by_claims_and_by_optuna_at_once_never_share_a_number(
        storage_url: str) -> None:
    """The study row's lock, which Optuna's ``create_new_trial`` takes too: without it two
    creators counting at once would each see the same trials before their own."""
    st = Storage(storage_url)
    st.create_study("r", direction="maximize")
    sid, errors = st.study_id("r"), []

    def claims() -> None:
        w = Storage(storage_url, create=False)
        try:
            for _ in range(15):
                with w.connection() as conn, conn.begin():
                    insert_running_trial(conn, sid, {})
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            w.close()

    def enqueues() -> None:
        w = Storage(storage_url, create=False)
        try:
            s = w.load_study("r")
            for i in range(15):
                s.enqueue_trial({"x": float(i)})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            w.close()

    threads = [threading.Thread(target=f) for f in (claims, claims, enqueues, enqueues)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    numbers = sorted(t.number for t in st.frozen_trials("r"))
    assert numbers == list(range(60))
    st.close()


def test_a_trial_that_never_beat_is_dead_by_utc_not_by_local_time(
        storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Optuna stores a start time as naive UTC: east of Greenwich, comparing it with local
    time made a trial popped a moment ago, not yet beating, look hours old, and a peer's look
    for dead trials failed it; west of it, a dead one lived hours longer."""
    import time

    from automl.storage.optuna_tables import dead_trial_ids

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9, no daylight saving
    time.tzset()
    try:
        st = Storage(storage_url, heartbeat_interval=1, grace_period=60)
        st.create_study("tz", direction="maximize")
        with st.connection() as conn, conn.begin():
            fresh = insert_running_trial(conn, st.study_id("tz"), {})  # no heartbeat yet
        with st.connection() as conn:
            assert fresh._trial_id not in dead_trial_ids(conn, st.study_id("tz"), 60.0)
            assert fresh._trial_id in dead_trial_ids(conn, st.study_id("tz"), -60.0)
        st.close()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_first_heartbeat_is_the_insert_time_not_the_transactions_start(
        storage_url: str) -> None:
    """A claim's transaction begins before it waits for the lock; a heartbeat dated from that
    start would look seconds (under load, a grace period) old the moment it is written."""
    import time

    from sqlalchemy import func, select

    st = Storage(storage_url)
    st.create_study("hb", direction="maximize")
    with st.connection() as conn, conn.begin():
        began = conn.execute(select(func.now())).scalar_one().replace(tzinfo=None)
        time.sleep(1.2)  # the wait for the claim lock
        made = insert_running_trial(conn, st.study_id("hb"), {}, beat=True)
        beat = conn.execute(text("SELECT heartbeat FROM trial_heartbeats WHERE trial_id = :t"),
                            {"t": made._trial_id}).scalar_one()
    if isinstance(beat, str):  # SQLite returns its text as is
        from datetime import datetime

        beat = datetime.fromisoformat(beat)
    assert (beat - began).total_seconds() >= 1.0
    st.close()
