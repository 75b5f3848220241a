"""``benchmarks/chaos.py`` in its two SIGKILL modes, at the smallest size that still shows
chaos: a kill lands in a trial, that trial fails, and its candidate is run again (the
SIGINT/SIGTERM mode, ``--signals``, is tested in ``tests/automl/test_reliability.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from script_run import ok_json, run_script


def _assert_one_trial_killed_and_rerun(r: dict[str, Any], requested: int) -> None:
    """A kill landed in a trial (the database showed it RUNNING, held by the dead process),
    that trial failed and its candidate was run again; the run still finished exactly."""
    assert r["ok"] and r["storage"] == "sqlite" and r["requested"] == requested
    # A kill that finds the process between two trials lands in none: the script kills again.
    assert len(r["killed_trials"]) == 1 and 1 <= r["kills"] <= 2
    assert r["failed_by_kills"] == 1 and r["killed_not_failed"] == r["failed_not_rerun"] == 0
    assert r["finished"] == requested and r["trials_lost"] == 0 and r["duplicate_completed"] == 0
    assert r["left_running_or_waiting"] == 0
    assert r["trials_total"] == requested + 1  # the failed trial besides the finished ones


@pytest.mark.slow
def test_chaos_sigkill_lands_in_a_trial(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    # The kill comes as soon as the database shows a trial RUNNING (of 6 epochs: most of a
    # second, or more), so it lands in it; the same command run again finishes the run.
    r = ok_json(run_script("chaos.py", "--kills", "1", "--mid-trial", "--trials", "2",
                           "--epochs", "6", "--max-seconds", "120", "--json", str(out),
                           cwd=tmp_path, timeout=400), out)
    _assert_one_trial_killed_and_rerun(r, 2)


@pytest.mark.slow
def test_chaos_one_launched_worker_killed(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    out = tmp_path / "workers.json"
    r = ok_json(run_script("chaos.py", "--worker-kills", "1", "--trials", "4", "--epochs", "8",
                           "--max-seconds", "120", "--json", str(out), cwd=tmp_path,
                           timeout=400), out)
    assert r["launcher"] == "slurm-local" and r["workers"] == 2
    _assert_one_trial_killed_and_rerun(r, 4)
