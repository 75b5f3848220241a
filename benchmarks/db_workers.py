"""How many concurrent workers one PostgreSQL holds: N simulated workers claim, heartbeat and
finish short trials through the real worker loop (:func:`automl.control.loop.optimize`, the real
:class:`~automl.storage.Storage` with the launchers' pool of one connection per engine); only
training is replaced by a sleep. Checks what a search on a cluster is promised:

* exactly the requested number of finished trials, none duplicated, none lost;
* nothing left RUNNING or WAITING;
* no worker fails to connect ("too many clients") or exits with an error;

and records claims/s (finished trials per second of the run) and the database's connection
count (sampled every 0.1 s from pg_stat_activity). Workers are separate processes that start
together once all are connected.

    python benchmarks/db_workers.py --storage postgresql+psycopg://u:p@host/db \
        [--workers 1,8,64] [--trials 256] [--trial-s 0.05] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _open_storage(url: str) -> Any:
    from automl.storage import Storage

    return Storage(url, heartbeat_interval=1, grace_period=5)


def worker(url: str, study_name: str, run_id: int, requested: int, trial_s: float,
           go: Path) -> None:
    """One simulated worker: connect, wait for the start, run the real loop."""
    import optuna

    from automl.control.loop import optimize
    from automl.storage.runs import Run

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = _open_storage(url)
    study = st.load_study(study_name,
                              sampler=optuna.samplers.RandomSampler(seed=os.getpid()))
    study.get_trials(deepcopy=False)  # connected (both engines) before the start
    (go.parent / f"ready-{os.getpid()}").touch()
    while not go.exists():
        time.sleep(0.05)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(trial_s)  # the training a real worker would do
        return x

    run = Run(run_id, study_name, requested, requested, resumed=True)
    ran = optimize(study, objective, st, run, poll_s=0.2)
    print(json.dumps({"ran": ran}))


def _start_workers(cmd: list[str], env: dict[str, str], workers: int,
                   tmp: Path) -> tuple[list[subprocess.Popen[str]], float]:
    """Start ``workers`` worker processes and wait until each is connected (or one failed);
    returns them and the seconds that took."""
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(workers)]
    while len(list(tmp.glob("ready-*"))) < workers:
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.2)
    return procs, time.monotonic() - t0


@contextmanager
def _peak_connections(st: Any) -> Iterator[dict[str, int]]:
    """The most connections seen on the database and on the server, sampled every 0.1 s
    while the block runs."""
    from automl.storage.capacity import database_connections, server_connections

    peak = {"db": 0, "server": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["db"] = max(peak["db"], database_connections(st))
            conns = server_connections(st)
            peak["server"] = max(peak["server"], conns.in_use if conns else 0)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()


def _worker_outcomes(procs: list[subprocess.Popen[str]],
                     outs: list[tuple[str, str]]) -> tuple[list[str], int, int]:
    """The workers' last error lines, how many said "too many" (connections), and how many
    trials they say they ran."""
    errors = [err.strip().splitlines()[-1] for p, (_, err) in zip(procs, outs, strict=True)
              if p.returncode != 0 and err.strip()]
    too_many = sum("too many" in err.lower() for _, err in outs)
    ran = sum(json.loads(out.strip().splitlines()[-1])["ran"] for p, (out, _) in
              zip(procs, outs, strict=True) if p.returncode == 0 and out.strip())
    return errors, too_many, ran


def one_round(url: str, workers: int, trials: int, trial_s: float) -> dict[str, Any]:
    import optuna

    from automl.cluster import placement
    from automl.control.loop import counts, tally
    from automl.storage.capacity import server_connections
    from automl.storage.runs import start_or_resume

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = _open_storage(url)
    name = f"dbw-{workers}-{uuid.uuid4().hex[:6]}"
    study = st.create_study(name, direction="maximize")
    run = start_or_resume(st, name, "bench", trials, 0)
    tmp = Path(tempfile.mkdtemp(prefix="dbw-"))
    go = tmp / "go"
    env = {**os.environ, **placement.job_env(0, time.time(), workers), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, "--worker", "--storage", url, "--study", name,
           "--run-id", str(run.id), "--trials", str(trials), "--trial-s", str(trial_s),
           "--go", str(go)]
    procs, startup_s = _start_workers(cmd, env, workers, tmp)
    with _peak_connections(st) as peak:
        go.touch()
        t1 = time.monotonic()
        outs = [p.communicate(timeout=1800) for p in procs]
        run_s = time.monotonic() - t1
    errors, too_many, ran = _worker_outcomes(procs, outs)
    ts = study.get_trials(deepcopy=False)
    t = tally(ts, run.id)
    counted = [x for x in ts if counts(x)]
    limit = server_connections(st)
    st.close()
    return {
        "workers": workers, "trials": trials, "trial_s": trial_s,
        "finished": t.finished, "complete": sum(x.state.name == "COMPLETE" for x in ts),
        "duplicated": max(0, len(counted) - trials), "lost": max(0, trials - len(counted)),
        "left_running": t.running, "left_waiting": t.waiting, "ran_by_workers": ran,
        "worker_errors": len(errors), "too_many_connections": too_many,
        "first_errors": errors[:3], "startup_s": round(startup_s, 1),
        "run_s": round(run_s, 2), "claims_per_s": round(trials / run_s, 1),
        "peak_db_connections": peak["db"], "peak_server_connections": peak["server"],
        "server_limit": limit.limit if limit else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", required=True)
    ap.add_argument("--workers", default="1,8,64", help="comma-separated worker counts")
    ap.add_argument("--trials", type=int, default=256)
    ap.add_argument("--trial-s", type=float, default=0.05)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--study", help=argparse.SUPPRESS)
    ap.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.storage, args.study, args.run_id, args.trials, args.trial_s, args.go)
        return
    import platform

    rounds = []
    for n in (int(w) for w in args.workers.split(",")):
        r = one_round(args.storage, n, args.trials, args.trial_s)
        print(json.dumps(r), flush=True)
        rounds.append(r)
    result = {"machine": f"{platform.node()} {os.cpu_count()} CPUs", "rounds": rounds}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
