"""Crash-resume, SIGTERM and parallel workers against SQLite and PostgreSQL (real processes,
real trainer, real database; nothing mocked)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from automl.control.loop import RUN_ATTR, counts
from automl.storage import open_storage
from automl.storage.reconcile import project_states

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

FAST = ["--data", "digits", "--epochs", "3", "--set", "search.arch=mlp",
        "--set", "trainer.num_threads=1", "--set", "study.heartbeat_interval=1",
        "--set", "study.grace_period=3"]


def search_cmd(url: str, study: str, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "automl", "search", "--storage", url, "--study", study,
            "--trials", str(trials), "--quiet", *FAST, *extra]


def run_ok(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a search to its end; it must succeed."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def frozen_trials(url: str, study: str) -> list:
    """The study's trials as Optuna stores them; [] while the search has not created it yet."""
    st = opened(url, study)
    if st is None:
        return []
    try:
        return st.frozen_trials(study)
    finally:
        st.close()


def opened(url: str, study: str):  # noqa: ANN201
    """A handle on the database of ``study``, or None while the search has not created it."""
    from automl.errors import StorageError

    try:
        st = open_storage(url, create=False)
    except StorageError:
        return None
    try:
        st.study_id(study)
    except StorageError:
        st.close()
        return None
    return st


def wait_for_training(url: str, study: str, epochs: range, proc: subprocess.Popen,
                      completed: int = 0) -> tuple[list, Any]:
    """Optuna's trials, and a worker's RUNNING trial, once that one has trained a number of
    ``epochs`` in the range and ``completed`` trials are COMPLETE. Progress read from the
    database, not the clock, picks the instant to strike: on a loaded machine the epochs are
    slower too, so the trial is still training when the test acts. One handle for every poll."""
    st = None
    seen: list = []

    def training() -> bool:
        nonlocal st
        st = st or opened(url, study)
        if st is None or proc.poll() is not None:
            return proc.poll() is not None
        trials = st.frozen_trials(study)
        trained = {r.number: len(r.epochs) for r in st.trials(study, with_epochs=True)}
        now = [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs
               and trained.get(t.number, 0) in epochs]
        seen[:] = [*trials, *now[:1]]
        return bool(now) and sum(t.state.name == "COMPLETE" for t in trials) >= completed

    try:
        wait_for(training, timeout=240, what=f"a trial with {epochs} epochs trained")
    finally:
        if st is not None:
            st.close()
    assert proc.poll() is None, f"the search ended first: {proc.communicate()[1]}"
    return seen[:-1], seen[-1]


def wait_for(pred, timeout: float = 90.0, what: str = "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def check_final(url: str, study: str, requested: int) -> list:
    trials = frozen_trials(url, study)
    assert all(t.state.name not in ("RUNNING", "WAITING") for t in trials), [
        (t.number, t.state.name, t.user_attrs, t.system_attrs) for t in trials]
    counted = [t for t in trials if counts(t)]
    assert len(counted) == requested, [(t.number, t.state.name, t.user_attrs) for t in trials]
    # No candidate completed twice because of a retry.
    params = [tuple(sorted(t.params.items())) for t in counted if t.state.name == "COMPLETE"]
    assert len(params) == len(set(params))
    return trials


def test_kill9_then_same_command_resumes_exactly(storage_url: str, tmp_path: Path) -> None:
    # Trials of 60 epochs; the kill lands in a trial's first half, after one completed: one
    # trial completed before it, one killed, and the re-run's retry and one new trial after it
    # (3 trials: each does its part; more would only add training).
    cmd = search_cmd(
        storage_url, "crash", 3, "--set", "trainer.epochs=60", "--set", "study.pruner=none"
    )  # every re-run candidate must complete
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_training(storage_url, "crash", range(30), proc, completed=1)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the search ended before the kill"
    finally:
        if proc.poll() is None:
            proc.kill()
    # What the kill left: the trials it cut short are still RUNNING in the database.
    at_kill = frozen_trials(storage_url, "crash")
    before = [t.number for t in at_kill if t.state.name == "COMPLETE"]
    killed = [t.number for t in at_kill if t.state.name == "RUNNING"]
    assert before and killed, [(t.number, t.state.name) for t in at_kill]
    again = run_ok(cmd, tmp_path)
    assert "resumed" in again.stdout
    trials = check_final(storage_url, "crash", 3)
    by_number = {t.number: t for t in trials}
    assert all(by_number[n].state.name == "COMPLETE" for n in before)  # nothing completed lost
    st = open_storage(storage_url, create=False)
    rows = project_states(st, "crash")
    st.close()
    assert "RUNNING" not in rows.values(), rows  # the project's rows follow Optuna's
    for n in killed:
        assert by_number[n].state.name == "FAIL"
        assert rows.get(n, "FAIL") == "FAIL"
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == n]
        assert retries and retries[0].state.name == "COMPLETE"
        # The same candidate, re-run (a trial killed mid-sampling had only some of its params).
        assert by_number[n].params.items() <= retries[0].params.items()


def test_sigterm_marks_interrupted_and_rerun_continues(storage_url: str, tmp_path: Path) -> None:
    # The SIGTERM lands while a trial trains (from its first epoch to its 30th of 60), not in
    # the trial's closing writes, where it would wait for the next trial.
    cmd = search_cmd(storage_url, "term", 3, "--set", "trainer.epochs=60")
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_training(storage_url, "term", range(1, 31), proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err
    trials = frozen_trials(storage_url, "term")
    interrupted = [t for t in trials if t.user_attrs.get("reason") == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].state.name == "FAIL"
    # It stopped at once: mid-training, and nothing after it started (its retry waits).
    assert [t.state.name for t in trials if t.number > interrupted[0].number] == ["WAITING"]
    st = open_storage(storage_url, create=False)
    record = st.trial("term", interrupted[0].number)
    st.close()
    assert record.reason == "interrupted" and len(record.epochs) < 60
    run_ok(cmd, tmp_path)
    final = check_final(storage_url, "term", 3)
    # The same candidate ran again to an end (finished, or stopped at a rung by MO-ASHA).
    assert any(
        t.user_attrs.get("retry_of") == interrupted[0].number
        and t.state.name in ("COMPLETE", "PRUNED")
        for t in final
    )


def test_parallel_workers_share_one_study_exactly(storage_url: str, tmp_path: Path) -> None:
    # Trials long enough (a few seconds) that the second worker's start-up does not miss them.
    cmd = search_cmd(storage_url, "par", 6, "--workers", "2", "--set", "trainer.epochs=60")
    run_ok(cmd, tmp_path)
    trials = check_final(storage_url, "par", 6)
    assert len(trials) == 6
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers did work
    assert len({t.user_attrs[RUN_ATTR] for t in trials}) == 1


def test_two_commands_on_two_terminals_share_a_study(storage_url: str, tmp_path: Path) -> None:
    """The many-machines recipe, shown with local processes: the same command, twice. Nobody
    dies: a 30 s grace, as a loaded machine's live worker can be 3 s late (FAST's grace)."""
    cmd = search_cmd(storage_url, "multi", 6, "--set", "study.grace_period=30")
    procs = [
        subprocess.Popen(
            cmd,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ},
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    trials = check_final(storage_url, "multi", 6)
    assert len(trials) == 6


def _started_ago(url: str, trial_id: int, seconds: float) -> None:
    """Move a trial's start back in Optuna's table (local time, as Optuna writes it): the
    clock a stale-trial check reads, without waiting for it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE trials SET datetime_start = :t WHERE trial_id = :i"),
                     {"t": datetime.now() - timedelta(seconds=seconds), "i": trial_id})
    engine.dispose()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_trial_orphaned_before_its_first_heartbeat_is_failed_and_requeued(
    storage_url: str,
) -> None:
    """A worker killed between creating a trial and its first heartbeat: Optuna's stale check
    never sees such a trial; the runner's claim does."""
    import optuna

    from automl.control.loop import _claim
    from automl.storage import Storage, lifecycle
    from automl.storage.claims import Claims
    from automl.storage.runs import start_or_resume

    st = Storage(storage_url, heartbeat_interval=1, grace_period=1)
    study = st.create_study("orphan")
    orphan = study.ask()  # RUNNING, no heartbeat ever: its process "died" right here
    orphan.suggest_int("x", 0, 10)
    run = start_or_resume(st, "orphan", "fp", requested=1, finished_now=0)
    _started_ago(storage_url, orphan._trial_id, seconds=60)  # well past the grace period
    claimed = _claim(Claims(st, study, RUN_ATTR, run.id), run, None)
    trials = study.get_trials(deepcopy=False)
    assert trials[orphan.number].state.name == "FAIL"
    assert not isinstance(claimed, str)
    assert claimed.trial.number != orphan.number
    # The claimed trial is the orphan's candidate, queued again.
    again = lifecycle.frozen(st, claimed.trial_id)
    assert optuna.storages.RetryFailedTrialCallback.retried_trial_number(again) == orphan.number
    st.close()


def test_chaos_sigint_sigterm_quick(tmp_path: Path) -> None:
    """5 SIGINT/SIGTERM at random instants over rounds of a small study on SQLite (the full
    run, 200 signals on SQLite and PostgreSQL, is ``benchmarks/chaos.py --signals 100``; 5
    instead of ``--quick``'s 10 keeps it under a minute). Rounds of 16 trials, not 8: a run
    restarted after a signal then has trials left to be signalled in (a resumed run, its
    retry queued, is signalled again) instead of finishing its round unsignalled, so the same
    5 signals take fewer process starts, each of which costs seconds of imports."""
    import json

    out = tmp_path / "chaos.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--quick", "--signals", "5",
         "--round-trials", "16", "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    [r] = json.loads(out.read_text())["results"]
    assert r["signals"] == 5 and r["rounds"] >= 1, r
    assert r["optuna_running_after_exit"] == 0 and r["project_running_after_exit"] == 0, r
    assert r["rounds_exact"] == r["rounds"] and r["candidates_lost"] == 0, r
    assert r["candidates_changed"] == 0 and r["rows_disagreeing"] == 0 and r["hangs"] == 0, r
    assert proc.returncode == 0, proc.stdout + proc.stderr
