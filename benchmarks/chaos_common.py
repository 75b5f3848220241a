"""What both chaos modes that SIGKILL (:mod:`chaos`: the ``automl search`` process;
:mod:`chaos_workers`: one launched worker) share: the search they run, reading its study, and
checking and reporting what the database holds at the end.

Neither mode imports the other: each imports this module.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

HEARTBEAT = ["--set", "study.heartbeat_interval=1", "--set", "study.grace_period=2"]
STUDY = "chaos"
POLL_S = 0.1  # between two reads of the study while waiting for a trial to kill


def command(url: str, trials: int, epochs: int = 4) -> list[str]:
    """The search both modes run (more ``epochs``: longer trials, so a kill lands in one)."""
    return [sys.executable, "-m", "automl", "search", "--storage", url, "--study", STUDY,
            "--data", "digits", "--trials", str(trials), "--epochs", str(epochs), "--quiet",
            "--set", "search.arch=mlp", "--set", "trainer.num_threads=1", *HEARTBEAT]


def snapshot(url: str) -> list[Any]:
    """The study's trials ([] while the database or the study does not exist yet)."""
    from automl.errors import StorageError
    from automl.storage import open_storage

    try:
        st = open_storage(url, create=False)
    except StorageError:
        return []
    try:
        return st.frozen_trials(STUDY)
    except StorageError:  # the study does not exist yet
        return []
    finally:
        st.close()


def running(trials: list[Any], pid: int | None = None) -> list[int]:
    """Numbers of the RUNNING trials (held by the worker process ``pid`` if given: its
    ``worker`` attribute is ``host:pid``)."""
    return [t.number for t in trials if t.state.name == "RUNNING" and (
        pid is None or str(t.user_attrs.get("worker", "")).rsplit(":", 1)[-1] == str(pid))]


def rerun_stats(trials: list[Any], killed: list[int]) -> dict[str, Any]:
    """What became of the trials the kills failed (FAIL, not counted: a trial failing for a
    reason of its own counts and is not run again): each must have been run again.

    Optuna's retry of a stale trial lists in ``retry_history`` every trial it stands in for
    (a retry of a retry too); the worker loop's own re-queue names it in ``retry_of``."""
    from automl.control.loop import RETRY_ATTR, counts

    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    retried |= {int(t.user_attrs[RETRY_ATTR]) for t in trials if RETRY_ATTR in t.user_attrs}
    state = {t.number: t.state.name for t in trials}
    failed = [t.number for t in trials if t.state.name == "FAIL" and not counts(t)]
    return {"killed_trials": killed, "failed_by_kills": len(failed),
            "failed_not_rerun": sum(n not in retried for n in failed),
            "killed_not_failed": sum(state.get(n) != "FAIL" for n in killed)}


def check(url: str, requested: int, kills: int, decreased: int, exit_code: int,
          start: float, killed: list[int] | None = None) -> dict[str, Any]:
    """What the database holds after the final run, against what a user is promised;
    ``killed``: the trials a kill landed in (each must have failed and been run again)."""
    from automl.control.loop import counts

    trials = snapshot(url)
    finished = [t for t in trials if counts(t)]
    params = [tuple(sorted(t.params.items())) for t in finished if t.state.name == "COMPLETE"]
    left = [t.number for t in trials if t.state.name in ("RUNNING", "WAITING")]
    result: dict[str, Any] = {
        "storage": url.split("://")[0],
        "kills": kills,
        "requested": requested,
        "finished": len(finished),
        "trials_total": len(trials),
        "completed_decreased": decreased,
        "duplicate_completed": len(params) - len(set(params)),
        "left_running_or_waiting": len(left),
        "final_exit_code": exit_code,
        "seconds": round(time.monotonic() - start, 1),
        **rerun_stats(trials, killed or []),
    }
    result["trials_lost"] = decreased + abs(len(finished) - requested)
    # A kill fails at most the one trial its process holds.
    result["ok"] = (result["trials_lost"] == 0 and not left and exit_code == 0
                    and result["duplicate_completed"] == 0 and result["failed_not_rerun"] == 0
                    and result["killed_not_failed"] == 0 and result["failed_by_kills"] <= kills)
    return result


def report(result: dict[str, Any], json_path: Path | None) -> None:
    print(f"\nkills survived: {result['kills']}   trials lost: {result['trials_lost']}   "
          f"finished {result['finished']}/{result['requested']}   duplicates "
          f"{result['duplicate_completed']}   left running "
          f"{result['left_running_or_waiting']}   ok={result['ok']}")
    print(f"trials the kills landed in: {result['killed_trials']}; trials failed: "
          f"{result['failed_by_kills']}, not run again: {result['failed_not_rerun']}")
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
