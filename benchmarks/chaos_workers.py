"""Chaos for launched workers: SIGKILL one worker of ``automl search --launcher ... --workers N``
at random moments, while the launching command keeps following the run (issue 14).

One command starts N worker jobs (``slurm-local``: real submitit jobs as local processes,
each restarting its worker process when it dies; ``local``: this machine's processes). Every
2-8 s the script reads the database, picks a RUNNING trial at random and SIGKILLs the worker
process that holds it (its pid is the trial's ``worker`` attribute), K times; after a look
that finds no RUNNING trial it looks again within 0.2 s. Then the command
runs to its end and the database is checked as :mod:`chaos` checks it: completed trials never
decreased, the finished count is exactly ``--trials``, no candidate completed twice, nothing
left RUNNING or WAITING, each kill failed at most one trial, and every failed trial was run
again.

    python benchmarks/chaos.py --worker-kills 10 [--launcher slurm-local] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import tempfile
import time
from typing import Any

from chaos import check, command, report, snapshot


def _victim(trials: list[Any], rng: random.Random, killed: set[int]) -> tuple[Any, int] | None:
    """A RUNNING trial not killed before, and its worker's pid."""
    running = [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs
               and t.number not in killed]
    if not running:
        return None
    trial = rng.choice(running)
    return trial, int(str(trial.user_attrs["worker"]).rsplit(":", 1)[1])


def _kill_workers(args: argparse.Namespace, proc: subprocess.Popen, url: str,
                  start: float) -> tuple[list[int], int]:
    """SIGKILL the workers of random RUNNING trials; (killed trial numbers, decreases)."""
    rng = random.Random(args.seed)
    killed: list[int] = []
    completed_seen = decreased = 0
    wait = rng.uniform(2.0, 8.0)
    while len(killed) < args.worker_kills and proc.poll() is None:
        if time.monotonic() - start > args.max_seconds:
            break
        time.sleep(wait)
        # Until a kill lands, look again soon: trials of a second or two leave short gaps
        # with nothing RUNNING, and a 2-8 s wait after each miss can outlast the whole run.
        wait = 0.2
        trials = snapshot(url)
        completed = sum(t.state.name == "COMPLETE" for t in trials)
        decreased += completed < completed_seen
        completed_seen = max(completed_seen, completed)
        found = _victim(trials, rng, set(killed))
        if found is None:
            continue
        trial, pid = found
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it finished that trial and exited meanwhile
            continue
        killed.append(trial.number)
        wait = rng.uniform(2.0, 8.0)
        print(f"kill {len(killed):2d}: worker {pid} in trial {trial.number}, "
              f"{completed} completed", flush=True)
    return killed, decreased


def main(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="automl-chaos-workers-")
    url = args.storage or f"sqlite:///{tmp}/chaos.db"
    # Trials of a few seconds, so kills land mid-trial; each job may restart its worker as
    # often as it is killed.
    cmd = [*command(url, args.trials), "--launcher", args.launcher, "--workers",
           str(args.workers), "--set", f"cluster.restarts={args.worker_kills + 1}",
           "--set", "study.pruner='none'"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        killed, decreased = _kill_workers(args, proc, url, start)
        _, err = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = check(url, args.trials, len(killed), decreased, proc.returncode, start)
    trials = {t.number: t for t in snapshot(url)}
    # Optuna's retry of a retry keeps the first trial as ``failed_trial``; ``retry_history``
    # lists every trial it stands in for.
    retried = {n for t in trials.values() for n in t.system_attrs.get("retry_history", [])}
    failed = [n for n, t in trials.items() if t.state.name == "FAIL"]
    # A kill lands on the trial the worker holds then: the one seen RUNNING, or the next if it
    # had just finished that one, or none if it was between trials. Every failed trial must
    # have been run again.
    result.update(launcher=args.launcher, workers=args.workers, killed_trials=killed,
                  failed_by_kills=len(failed),
                  failed_not_rerun=sum(n not in retried for n in failed))
    result["ok"] = (result["ok"] and result["failed_not_rerun"] == 0
                    and len(failed) <= len(killed))
    if proc.returncode != 0:
        print(err[-2000:])
    report(result, args.json)
    print(f"trials failed by the kills: {len(failed)}, not run again: "
          f"{result['failed_not_rerun']}")
    return 0 if result["ok"] else 1
