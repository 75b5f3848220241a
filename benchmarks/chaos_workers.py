"""Chaos for launched workers: SIGKILL one worker of ``automl search --launcher ... --workers N``
at random moments, while the launching command keeps following the run (issue 14).

One command starts N worker jobs (``slurm-local``: real submitit jobs as local processes,
each restarting its worker process when it dies; ``local``: this machine's processes). Every
2-8 s the script reads the database, picks a RUNNING trial at random and SIGKILLs the worker
process that holds it (its pid is the trial's ``worker`` attribute), until K kills landed in
a trial (the database then shows a trial of the dead worker RUNNING; a kill between two trials
lands in none), with at most 2K kills; after a look that finds no RUNNING trial, or a kill
that landed in none, it looks again within 0.2 s. ``--epochs`` makes trials longer. Then the
command runs to its end and the database is checked as :mod:`chaos` checks it (see
:mod:`chaos_common`): completed trials never decreased, the finished count is exactly
``--trials``, no candidate completed twice, nothing left RUNNING or WAITING, the kills failed
at most one trial each, every trial a kill landed in failed, and every failed trial was run
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

from chaos_common import check, command, report, running, snapshot


def _victim(trials: list[Any], rng: random.Random, killed: set[int]) -> tuple[Any, int] | None:
    """A RUNNING trial not killed before, and its worker's pid."""
    candidates = [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs
                  and t.number not in killed]
    if not candidates:
        return None
    trial = rng.choice(candidates)
    return trial, int(str(trial.user_attrs["worker"]).rsplit(":", 1)[1])


def _kill_workers(args: argparse.Namespace, proc: subprocess.Popen, url: str,
                  start: float) -> tuple[int, list[int], int]:
    """SIGKILL the workers of random RUNNING trials until ``--worker-kills`` kills landed in a
    trial (at most twice as many kills in all); (kills, the trials they landed in,
    decreases)."""
    rng = random.Random(args.seed)
    killed: list[int] = []
    kills = completed_seen = decreased = 0
    wait = rng.uniform(2.0, 8.0)
    while (len(killed) < args.worker_kills and kills < 2 * args.worker_kills
           and proc.poll() is None and time.monotonic() - start < args.max_seconds):
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
        kills += 1
        # It landed in the trial the worker holds now: the one seen RUNNING, or the next if
        # it had just finished that one, or none if it was between trials. A dead worker's
        # trial stays RUNNING until a peer or its restart finds the heartbeat stale.
        landed = running(snapshot(url), pid)
        killed += landed
        wait = rng.uniform(2.0, 8.0) if landed else 0.2
        print(f"kill {kills:2d}: worker {pid} seen in trial {trial.number}, landed in "
              f"{landed}, {completed} completed", flush=True)
    return kills, killed, decreased


def main(args: argparse.Namespace) -> int:
    tmp = tempfile.mkdtemp(prefix="automl-chaos-workers-")
    url = args.storage or f"sqlite:///{tmp}/chaos.db"
    # Trials of a few seconds (--epochs), so kills land mid-trial; each job may restart its
    # worker as often as it can be killed.
    cmd = [*command(url, args.trials, args.epochs), "--launcher", args.launcher, "--workers",
           str(args.workers), "--set", f"cluster.restarts={2 * args.worker_kills + 1}",
           "--set", "study.pruner='none'"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        kills, killed, decreased = _kill_workers(args, proc, url, start)
        _, err = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Every failed trial must have been run again, each kill failed at most one, and each
    # trial a kill landed in failed.
    result = check(url, args.trials, kills, decreased, proc.returncode, start, killed)
    result.update(launcher=args.launcher, workers=args.workers)
    if proc.returncode != 0:
        print(err[-2000:])
    report(result, args.json)
    return 0 if result["ok"] else 1
