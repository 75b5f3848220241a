"""Opening storage: timeouts on a server that never answers, read-only databases, and the
project's rows brought in line with Optuna's (real SQLite/PostgreSQL, real CLI)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from automl.errors import StorageError
from automl.storage import Storage
from automl.storage.reconcile import STOPPED, project_states, reconcile_trials

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    for c in held:
        c.close()
    srv.close()


@pytest.mark.parametrize("command", [["studies"], ["leaderboard", "s"], ["show", "s", "0"],
                                     ["search", "--data", "digits", "--trials", "1", "--quiet"]])
def test_server_that_never_answers_fails_within_the_connect_timeout(
        silent_server: int, command: list[str], tmp_path: Path) -> None:
    url = f"postgresql+psycopg://u:Sup3rS3cret@127.0.0.1:{silent_server}/db"
    env = {**os.environ, "AUTOML_DB_CONNECT_TIMEOUT": "1"}
    env.pop("AUTOML_STORAGE", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "automl", *command, "--storage", url],
                          cwd=tmp_path, capture_output=True, text=True, timeout=150, env=env)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert "timeout" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert "Sup3r" not in proc.stderr + proc.stdout
    # Without a timeout it never ends; with it: start-up (the search imports torch: 10-30 s on
    # a loaded 2-core machine) plus psycopg's 2 s minimum per attempt.
    assert elapsed < (90 if command[0] == "search" else 30), elapsed


def test_bad_timeout_setting_is_one_line(silent_server: int, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.setenv("AUTOML_DB_CONNECT_TIMEOUT", "soon")
    with pytest.raises(StorageError, match="AUTOML_DB_CONNECT_TIMEOUT must be a positive"):
        Storage(f"postgresql+psycopg://u:p@127.0.0.1:{silent_server}/db")


@pytest.mark.postgres
def test_postgres_sessions_carry_statement_and_lock_timeouts(
        storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not storage_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    monkeypatch.setenv("AUTOML_DB_STATEMENT_TIMEOUT", "1")
    monkeypatch.setenv("AUTOML_DB_LOCK_TIMEOUT", "0.5")
    st = Storage(storage_url)
    for engine in (st._engine, st._optuna.engine):  # ours and Optuna's
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "500ms"
    with pytest.raises(StorageError, match="statement timeout"), st.session() as s:
        s.execute(text("SELECT pg_sleep(3)"))
    st.close()
    ro = Storage(storage_url, create=False, readonly=True)
    with ro.connection() as conn:
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
    ro.close()


def _one_study(url: str) -> None:
    st = Storage(url)
    study = st.create_study("s", directions=["maximize", "minimize"])
    st.save_study("s", "pareto", "flops", {"study": {"cost": "flops"}}, {})
    t = study.ask()
    st.update_trial("s", t.number, state="COMPLETE", arch={"kind": "mlp"}, flops=2.0,
                    val_accuracy=0.9)
    study.tell(t, [0.9, 2.0])
    st.close()


def test_read_only_handle_never_writes(storage_url: str) -> None:
    _one_study(storage_url)
    ro = Storage(storage_url, create=False, readonly=True)
    assert [r.state for r in ro.trials("s")] == ["COMPLETE"]
    assert [s.name for s in ro.list_studies()] == ["s"]
    with pytest.raises(StorageError, match="read-only|readonly"):
        ro.update_trial("s", 0, state="FAIL")
    ro.close()


def _read_commands(url: str, runner: list[str], env: dict[str, str], cwd: Path) -> None:
    for args in (["studies"], ["leaderboard", "s"], ["show", "s", "0"]):
        proc = subprocess.run([*runner, "-m", "automl", *args, "--storage", url], cwd=cwd,
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "s" in proc.stdout


def _as_nobody() -> list[str] | None:
    """Run Python as user nobody (tests run as root here, and root ignores file modes): the
    system interpreter of the same version, with this environment's packages."""
    python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(python):
        return None
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python]


def test_read_commands_on_a_database_nobody_may_write() -> None:
    folder = Path(tempfile.mkdtemp(prefix="automl-ro-"))
    db = folder / "ro.db"
    url = f"sqlite:///{db}"
    _one_study(url)
    for extra in folder.glob("ro.db-*"):  # a cleanly closed WAL database has none
        extra.unlink()
    db.chmod(0o444)
    folder.chmod(0o555)  # nothing can be created beside it either (no -wal, no -shm)
    try:
        if os.geteuid() != 0:
            _read_commands(url, [sys.executable], dict(os.environ), folder)
        else:
            runner = _as_nobody()
            if runner is None:
                pytest.skip("running as root without setpriv or a system Python")
            folder.parent.chmod(folder.parent.stat().st_mode | 0o005)  # /tmp: world-readable
            site = next(p for p in sys.path if p.endswith("site-packages"))
            env = {"PATH": "/usr/bin:/bin", "HOME": str(folder),
                   "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
            _read_commands(url, runner, env, folder)
        assert sorted(p.name for p in folder.iterdir()) == ["ro.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_read_only_uri_form_is_honoured(tmp_path: Path) -> None:
    _one_study(f"sqlite:///{tmp_path / 'a.db'}")
    url = f"sqlite:///file:{tmp_path / 'a.db'}?mode=ro&uri=true"
    ro = Storage(url, create=False, readonly=True)
    assert [r.number for r in ro.trials("s")] == [0]
    ro.close()


def test_project_rows_follow_optuna_after_a_kill(storage_url: str) -> None:
    from optuna.trial import TrialState

    st = Storage(storage_url)
    study = st.create_study("k")
    st.save_study("k", "val_accuracy", "flops", {}, {})
    dead, done, alive = study.ask(), study.ask(), study.ask()
    for t in (dead, done, alive):
        st.update_trial("k", t.number, state="RUNNING")
    study.tell(dead, state=TrialState.FAIL)  # what the stale-heartbeat check does
    study.tell(done, 0.5)  # told, but its worker died before its own row said so
    assert reconcile_trials(st, "k") == 2
    assert project_states(st, "k") == {dead.number: "FAIL", done.number: "COMPLETE",
                                       alive.number: "RUNNING"}
    assert st.trial("k", dead.number).reason == STOPPED
    assert reconcile_trials(st, "k") == 0
    st.close()
