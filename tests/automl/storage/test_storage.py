from __future__ import annotations

from pathlib import Path

import pytest

from automl.errors import StorageError
from automl.storage import Storage, mask_url, open_storage, resolve_url


def test_mask_and_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mask_url("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_url("sqlite:///a.db") == "sqlite:///a.db"
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    assert resolve_url(None) == "sqlite:///automl.db"
    monkeypatch.setenv("AUTOML_STORAGE", "sqlite:///env.db")
    assert resolve_url(None) == "sqlite:///env.db"
    assert resolve_url("sqlite:///flag.db") == "sqlite:///flag.db"


def test_trials_join_optuna_state_with_project_rows(storage_url: str) -> None:
    url = storage_url
    st = Storage(url, artifacts="/tmp/automl-test-artifacts")
    study = st.create_study("s", directions=["maximize", "minimize"])
    st.save_study("s", "pareto", "flops", {"study": {"cost": "flops"}}, {"python": "3"})
    t = study.ask()
    st.update_trial("s", t.number, state="RUNNING", arch={"kind": "mlp"}, params=10, flops=20.0)
    st.add_epoch("s", t.number, 1, 0.5, 0.8, 0.1)
    st.add_epoch("s", t.number, 2, 0.4, 0.9, 0.1)
    st.update_trial("s", t.number, state="COMPLETE", val_accuracy=0.9)
    study.tell(t, [0.9, 20.0])
    t2 = study.ask()  # left RUNNING in Optuna, no project row at all
    assert t2.number == 1

    again = Storage(url, create=False)  # a second handle (e.g. the dashboard) reads it back
    recs = again.trials("s")
    assert [r.state for r in recs] == ["COMPLETE", "RUNNING"]
    assert recs[0].arch == {"kind": "mlp"} and recs[0].values == (0.9, 20.0)
    full = again.trial("s", 0)
    assert [e.val_accuracy for e in full.epochs] == [0.8, 0.9]
    [summary] = again.list_studies()
    assert summary.states == {"COMPLETE": 1, "RUNNING": 1} and summary.best_val_accuracy == 0.9
    assert again.study_config("s") == {"study": {"cost": "flops"}}
    folder, rel = st.artifact_dir("s", 3)
    key = st.study_key("s")
    assert rel == f"s-{key}/trial_00003" and folder == Path("/tmp/automl-test-artifacts") / rel
    assert again.artifact_dir("s", 3)[1] == rel  # the key is the database's, not the run's
    assert again.trial("s", 1).state == "RUNNING" and again.trial("s", 1).arch is None


def test_read_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="database file not found"):
        open_storage(f"sqlite:///{tmp_path / 'missing.db'}", create=False)
    with pytest.raises(StorageError, match="not a valid SQLAlchemy URL"):
        open_storage("not a url")
    with pytest.raises(StorageError, match="folder of the database does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'no' / 'dir.db'}")
    st = open_storage(f"sqlite:///{tmp_path / 'b.db'}")
    with pytest.raises(StorageError, match="no study named 'x'.*studies: none"):
        st.trials("x")
    with pytest.raises(StorageError, match="no trial 5"):
        st.create_study("y")
        st.save_study("y", "val_accuracy", "flops", {}, {})
        st.trial("y", 5)


def test_empty_sqlite_file_holds_no_studies(tmp_path: Path) -> None:
    (tmp_path / "e.db").write_bytes(b"")
    with pytest.raises(StorageError, match="holds no automl studies"):
        open_storage(f"sqlite:///{tmp_path / 'e.db'}", create=False)


def _open_at_barrier(url: str, barrier) -> str:  # noqa: ANN001
    from automl.storage import Storage

    barrier.wait()
    try:
        st = Storage(url)
        st.create_study("x", load_if_exists=True)  # Optuna's own tables made too
        st.close()
        return "ok"
    except Exception as exc:  # returned, so the parent sees every worker's outcome
        return f"{type(exc).__name__}: {exc}"


def test_workers_opening_a_fresh_database_together_all_succeed(tmp_path: Path) -> None:
    """Workers that start at once race to create both the project's and Optuna's tables; the
    loser of a race sees "already exists" and must simply check again (a CI run lost a search
    this way). Three races, each on a fresh database, by the same four processes: started
    once (spawning a process costs more than the race), each waits at the round's barrier."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(4) as pool:
        for round_ in range(3):
            url = f"sqlite:///{tmp_path}/race{round_}.db"
            barrier = manager.Barrier(4)  # four tasks meet here: one on each process
            outcomes = pool.starmap(_open_at_barrier, [(url, barrier)] * 4, chunksize=1)
            assert outcomes == ["ok"] * 4, outcomes


def test_a_create_step_that_raced_is_tried_again_and_a_real_error_is_not(tmp_path: Path) -> None:
    """SQLite's "database is locked" (a writer that would deadlock is refused at once, whatever
    the busy timeout) and "already exists" are races: the step runs again. Other errors fail
    at once, as one masked line."""
    from sqlalchemy.exc import OperationalError

    st = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("CREATE TABLE x", {}, Exception("database is locked"))
        return "made"

    assert st._racing_create(flaky) == "made" and len(calls) == 3

    def broken() -> str:
        calls.append(1)
        raise OperationalError("CREATE TABLE x", {}, Exception("disk I/O error"))

    calls.clear()
    with pytest.raises(StorageError, match="disk I/O error"):
        st._racing_create(broken)
    assert len(calls) == 1
    st.close()
