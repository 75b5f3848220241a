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

import pytest

from automl.control.loop import RUN_ATTR, counts
from automl.storage import open_storage
from automl.storage.reconcile import project_states

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

FAST = [
    "--data",
    "digits",
    "--epochs",
    "3",
    "--set",
    "search.arch=mlp",
    "--set",
    "trainer.num_threads=1",
    "--set",
    "study.heartbeat_interval=1",
    "--set",
    "study.grace_period=3",
]


def search_cmd(url: str, study: str, trials: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "automl",
        "search",
        "--storage",
        url,
        "--study",
        study,
        "--trials",
        str(trials),
        "--quiet",
        *FAST,
        *extra,
    ]


def run_ok(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a search to its end; it must succeed."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def frozen_trials(url: str, study: str) -> list:
    """The study's trials as Optuna stores them; [] while the search has not created it yet."""
    from automl.errors import StorageError

    try:
        st = open_storage(url, create=False)
    except StorageError:
        return []
    try:
        return st.frozen_trials(study)
    except StorageError as exc:
        if "no study named" not in str(exc):
            raise
        return []
    finally:
        st.close()


def watch(url: str, study: str):  # noqa: ANN201
    """A poller of the study's trials over one open handle (None until the study exists); its
    ``close`` releases the handle."""
    from automl.errors import StorageError

    try:
        st = open_storage(url, create=False)
        st.study_id(study)
    except StorageError:
        return None

    def poll() -> list:
        return st.frozen_trials(study)

    poll.close = st.close  # type: ignore[attr-defined]
    return poll


def wait_for(pred, timeout: float = 90.0, what: str = "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def check_final(url: str, study: str, requested: int) -> list:
    trials = frozen_trials(url, study)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")], trials
    counted = [t for t in trials if counts(t)]
    assert len(counted) == requested, [(t.number, t.state.name, t.user_attrs) for t in trials]
    # No candidate completed twice because of a retry.
    params = [tuple(sorted(t.params.items())) for t in counted if t.state.name == "COMPLETE"]
    assert len(params) == len(set(params))
    return trials


def test_kill9_then_same_command_resumes_exactly(storage_url: str, tmp_path: Path) -> None:
    # Trials of several seconds each, so the kill lands mid-run rather than after the last trial
    # (a CI run on a loaded machine missed a one-second window with trials of about a second).
    cmd = search_cmd(
        storage_url, "crash", 5, "--set", "trainer.epochs=100", "--set", "study.pruner=none"
    )  # every re-run candidate must complete
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = None
    try:

        def one_done_one_just_started() -> bool:
            # A trial that started moments ago is still training when the kill lands (one that
            # was merely RUNNING could finish between this read and the kill). One handle for
            # every poll, so a poll costs a query rather than an engine.
            nonlocal watcher
            if watcher is None:
                watcher = watch(storage_url, "crash")
                if watcher is None:
                    return False
            ts = watcher()
            fresh = datetime.now() - timedelta(seconds=2)
            return any(t.state.name == "COMPLETE" for t in ts) and any(
                t.state.name == "RUNNING" and t.datetime_start > fresh for t in ts
            )

        wait_for(
            one_done_one_just_started, timeout=180, what="a completed and a just-started trial"
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the search ended before the kill"
    finally:
        if proc.poll() is None:
            proc.kill()
        if watcher is not None:
            watcher.close()  # type: ignore[attr-defined]
    # What the kill left: the trials it cut short are still RUNNING in the database.
    at_kill = frozen_trials(storage_url, "crash")
    before = [t.number for t in at_kill if t.state.name == "COMPLETE"]
    killed = [t.number for t in at_kill if t.state.name == "RUNNING"]
    assert before and killed, [(t.number, t.state.name) for t in at_kill]
    again = run_ok(cmd, tmp_path)
    assert "resumed" in again.stdout
    trials = check_final(storage_url, "crash", 5)
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
    # 60 epochs of ~40 ms: the SIGTERM, half a second after a trial is seen running, lands
    # mid-training (not in the trial's closing writes, where it waits for the next trial).
    cmd = search_cmd(storage_url, "term", 3, "--set", "trainer.epochs=60")
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: any(t.state.name == "RUNNING" for t in frozen_trials(storage_url, "term")),
            what="a running trial",
        )
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert time.monotonic() - t0 < 30
    assert "interrupted" in err and "Traceback" not in err
    trials = frozen_trials(storage_url, "term")
    interrupted = [t for t in trials if t.user_attrs.get("reason") == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].state.name == "FAIL"
    st = open_storage(storage_url, create=False)
    assert st.trial("term", interrupted[0].number).reason == "interrupted"
    st.close()
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
    """The many-machines recipe, shown with local processes: the same command, twice."""
    cmd = search_cmd(storage_url, "multi", 6)
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


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_trial_orphaned_before_its_first_heartbeat_is_failed_and_requeued(
    storage_url: str,
) -> None:
    """A worker killed between creating a trial and its first heartbeat: Optuna's stale check
    never sees such a trial; the runner's claim does."""
    import optuna

    from automl.control.loop import _claim
    from automl.storage import Storage, lifecycle
    from automl.storage.runs import start_or_resume

    st = Storage(storage_url, heartbeat_interval=1, grace_period=1)
    study = st.create_study("orphan")
    orphan = study.ask()  # RUNNING, no heartbeat ever: its process "died" right here
    orphan.suggest_int("x", 0, 10)
    run = start_or_resume(st, "orphan", "fp", requested=1, finished_now=0)
    time.sleep(2.5)  # past the grace period
    claimed = _claim(study, st, run, None)
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
    instead of ``--quick``'s 10 keeps the suite's longest test near a minute)."""
    import json

    out = tmp_path / "chaos.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--quick", "--signals", "5",
         "--json", str(out)],
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
