"""Chaos: stop ``automl search`` at random moments (SIGKILL, or SIGINT/SIGTERM), restart it,
check the database.

Runs a small search, kills it K times at random moments (bounded in time), restarting it each
time with the same command, then lets it finish and checks what a user is promised:

* the number of completed trials never decreases between kills (nothing completed is lost);
* the final number of finished trials is exactly the requested one;
* no candidate completes twice because its interrupted trial was retried;
* no trial is left RUNNING or WAITING;
* every trial a kill failed (the one the process held then, if any) was run again, and the
  kills failed no other.

    python benchmarks/chaos.py [--kills 20] [--trials 300] [--storage URL] [--json out.json]

``--mid-trial`` kills as soon as the database shows a trial RUNNING instead (each kill then
lands in a trial; ``--epochs`` makes trials longer), and counts only kills that did.

``--signals N`` sends N SIGINT/SIGTERM instead, over rounds of small studies on SQLite and
PostgreSQL (see :mod:`chaos_signals`):

    python benchmarks/chaos.py --signals 200 [--pg-url URL] [--quick]

``--worker-kills K`` SIGKILLs one worker of a launched search K times instead, while the
launching command keeps running (see :mod:`chaos_workers`):

    python benchmarks/chaos.py --worker-kills 10 [--launcher slurm-local] [--workers 2]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaos_common import POLL_S, check, command, report, running, snapshot


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--storage", help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--max-seconds", type=float, default=600, help="time bound for the kills")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=4,
                    help="epochs a trial (more: longer trials, kills land in them)")
    ap.add_argument("--mid-trial", action="store_true",
                    help="kill as soon as a trial runs instead of at a random moment; "
                         "--kills counts only kills that landed in a trial")
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


def _wait_for_trial(proc: subprocess.Popen[bytes], url: str, seen: list[int],
                    end: float) -> bool:
    """Until the database shows a RUNNING trial not killed before (True), or the search exits
    or time is up (False)."""
    while proc.poll() is None and time.monotonic() < end:
        if set(running(snapshot(url))) - set(seen):
            return True
        time.sleep(POLL_S)
    return False


def kill_loop(args: argparse.Namespace, cmd: list[str], url: str, tmp: str,
              start: float) -> tuple[int, int, bool, list[int]]:
    """Start ``cmd`` and SIGKILL it at random moments (``--mid-trial``: as soon as a trial
    runs) until ``--kills`` (``--mid-trial``: kills that landed in a trial) or
    ``--max-seconds``; returns (kills, times the completed count decreased, whether the run
    finished by itself, the trials the kills landed in)."""
    rng = random.Random(args.seed)
    completed_seen, decreased, kills = 0, 0, 0
    killed: list[int] = []
    end = start + args.max_seconds
    while (len(killed) if args.mid_trial else kills) < args.kills and time.monotonic() < end:
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if args.mid_trial:
            _wait_for_trial(proc, url, killed, end)
        else:
            # Start-up takes a few seconds; after it, a kill lands anywhere: sampling,
            # training, writing a result or the weights.
            time.sleep(rng.uniform(2.0, 12.0))
        if proc.poll() is not None:  # it finished before the kill: the run is complete
            return kills, decreased, proc.returncode == 0, killed
        proc.kill()
        proc.wait()
        kills += 1
        trials = snapshot(url)
        # The search is the only process: what it held RUNNING stays so until a restart
        # finds its heartbeat stale.
        landed = sorted(set(running(trials)) - set(killed))
        killed += landed
        completed = sum(t.state.name == "COMPLETE" for t in trials)
        decreased += completed < completed_seen
        completed_seen = max(completed_seen, completed)
        print(f"kill {kills:2d}: {completed} completed, landed in trial {landed}", flush=True)
    return kills, decreased, False, killed


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
    cmd = command(url, args.trials, args.epochs)
    start = time.monotonic()
    kills, decreased, finished_by_itself, killed = kill_loop(args, cmd, url, tmp, start)
    # The same command once more finishes an interrupted run (a finished run would be extended
    # by another --trials, so it is not repeated then).
    final = (subprocess.CompletedProcess(cmd, 0) if finished_by_itself else
             subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900))
    result = check(url, args.trials, kills, decreased, final.returncode, start, killed)
    report(result, args.json)
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
