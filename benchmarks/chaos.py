"""Chaos: stop ``automl search`` at random moments (SIGKILL, or SIGINT/SIGTERM), restart it,
check the database.

Runs a small search, kills it K times at random moments (bounded in time), restarting it each
time with the same command, then lets it finish and checks what a user is promised:

* the number of completed trials never decreases between kills (nothing completed is lost);
* the final number of finished trials is exactly the requested one;
* no candidate completes twice because its interrupted trial was retried;
* no trial is left RUNNING or WAITING.

    python benchmarks/chaos.py [--kills 20] [--trials 300] [--storage URL] [--json out.json]

``--signals N`` sends N SIGINT/SIGTERM instead, over rounds of small studies on SQLite and
PostgreSQL (see :mod:`chaos_signals`):

    python benchmarks/chaos.py --signals 200 [--pg-url URL] [--quick]

``--worker-kills K`` SIGKILLs one worker of a launched search K times instead, while the
launching command keeps running (see :mod:`chaos_workers`):

    python benchmarks/chaos.py --worker-kills 10 [--launcher slurm-local] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEARTBEAT = ["--set", "study.heartbeat_interval=1", "--set", "study.grace_period=2"]


def command(url: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "automl", "search", "--storage", url, "--study", "chaos",
            "--data", "digits", "--trials", str(trials), "--epochs", "4", "--quiet",
            "--set", "search.arch=mlp", "--set", "trainer.num_threads=1", *HEARTBEAT]


def snapshot(url: str) -> list[Any]:
    from automl.errors import StorageError
    from automl.storage import open_storage

    try:
        st = open_storage(url, create=False)
    except StorageError:
        return []
    try:
        return st.frozen_trials("chaos")
    except StorageError:  # the study does not exist yet
        return []
    finally:
        st.close()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--storage", help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--max-seconds", type=float, default=600, help="time bound for the kills")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--signals", type=int, default=0,
                    help="SIGINT/SIGTERM mode: this many signals per back end")
    ap.add_argument("--round-trials", type=int, default=8, help="signals mode: trials a round")
    ap.add_argument("--backends", default="sqlite,postgres", help="signals mode")
    ap.add_argument("--pg-url", help="signals mode: PostgreSQL server (default: "
                    "$AUTOML_TEST_POSTGRES_URL); a fresh database is made on it and dropped")
    ap.add_argument("--quick", action="store_true", help="signals mode: 10 signals on SQLite")
    ap.add_argument("--worker-kills", type=int, default=0,
                    help="worker mode: SIGKILL a launched worker this many times")
    ap.add_argument("--launcher", default="slurm-local", help="worker mode")
    ap.add_argument("--workers", type=int, default=2, help="worker mode")
    return ap.parse_args()


def kill_loop(args: argparse.Namespace, cmd: list[str], url: str, tmp: str,
              start: float) -> tuple[int, int, bool]:
    """Start ``cmd`` and SIGKILL it at random moments until ``--kills`` or ``--max-seconds``;
    returns (kills, times the completed count decreased, whether the run finished by itself)."""
    rng = random.Random(args.seed)
    completed_seen, decreased, kills = 0, 0, 0
    finished_by_itself = False
    while kills < args.kills and time.monotonic() - start < args.max_seconds:
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Start-up takes a few seconds; after it, a kill lands anywhere: sampling, training,
        # writing a result or the weights.
        time.sleep(rng.uniform(2.0, 12.0))
        if proc.poll() is not None:  # it finished before the kill: the run is complete
            finished_by_itself = proc.returncode == 0
            break
        proc.kill()
        proc.wait()
        kills += 1
        completed = sum(t.state.name == "COMPLETE" for t in snapshot(url))
        decreased += completed < completed_seen
        completed_seen = max(completed_seen, completed)
        print(f"kill {kills:2d}: {completed} completed", flush=True)
    return kills, decreased, finished_by_itself


def check(url: str, requested: int, kills: int, decreased: int, exit_code: int,
          start: float) -> dict[str, Any]:
    """What the database holds after the final run, against what a user is promised."""
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
    }
    result["trials_lost"] = decreased + abs(len(finished) - requested)
    result["ok"] = (result["trials_lost"] == 0 and not left and exit_code == 0
                    and result["duplicate_completed"] == 0)
    return result


def report(result: dict[str, Any], json_path: Path | None) -> None:
    print(f"\nkills survived: {result['kills']}   trials lost: {result['trials_lost']}   "
          f"finished {result['finished']}/{result['requested']}   duplicates "
          f"{result['duplicate_completed']}   left running "
          f"{result['left_running_or_waiting']}   ok={result['ok']}")
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))


def main() -> None:
    args = parse_args()
    if args.signals or args.quick:
        from chaos_signals import main as signals_main

        sys.exit(signals_main(args))
    if args.worker_kills:
        from chaos_workers import main as workers_main

        sys.exit(workers_main(args))
    tmp = tempfile.mkdtemp(prefix="automl-chaos-")
    url = args.storage or f"sqlite:///{tmp}/chaos.db"
    cmd = command(url, args.trials)
    start = time.monotonic()
    kills, decreased, finished_by_itself = kill_loop(args, cmd, url, tmp, start)
    # The same command once more finishes an interrupted run (a finished run would be extended
    # by another --trials, so it is not repeated then).
    final = (subprocess.CompletedProcess(cmd, 0) if finished_by_itself else
             subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900))
    result = check(url, args.trials, kills, decreased, final.returncode, start)
    report(result, args.json)
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
