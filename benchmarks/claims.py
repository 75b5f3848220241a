"""How fast hundreds of workers claim trials of one study: N simulated workers (threads spread
over a few processes, each worker with its own Storage, so its own connections) run the real
worker loop (:func:`automl.control.loop.optimize`) against one database; training is a sleep.

Prints and writes (``--json``): claims/s (trials claimed per second, from the start signal to
the last claim), p50 / p99 claim latency (the loop's ``_claim``, timed around each call that
handed out a trial; "wait" answers apart), trials lost (requested minus counted) and duplicated
(a trial number run twice, or counted trials over the target), what was left RUNNING / WAITING,
the workers' errors, the database's peak connections, how long each hold of the claim lock
lasted (the section all workers queue for: its p50 bounds claims/s), and the CPU time per trial
of the workers' processes and of the whole machine (the database server included; Linux).
``--code DIR`` runs the workers on another checkout of the project (e.g. ``git archive HEAD |
tar -x -C DIR``: the code before a change), the study and the checks on this one.

    python benchmarks/claims.py --storage postgresql+psycopg://u:p@host/db \
        [--workers 256] [--trials 1024] [--trial-s 1] [--procs 16] [--json out.json]
    python benchmarks/claims.py --storage sqlite:///claims.db --workers 16 --quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 4) if xs else None


@dataclass
class Seen:
    """What one worker process saw."""

    claims: list[tuple[float, float, str]] = field(default_factory=list)  # start, s, outcome
    held: list[float] = field(default_factory=list)  # seconds each hold of the claim lock
    ran: list[int] = field(default_factory=list)  # trial numbers the objective ran
    errors: list[str] = field(default_factory=list)
    go_at: float = 0.0  # wall-clock start signal
    cpu_s: float = 0.0  # this process's CPU time from the start signal to its last worker's end


def worker_process(args: argparse.Namespace) -> None:
    """``args.threads`` workers in this process; prints one JSON line of what they saw."""
    sys.path.insert(0, str(args.code or ROOT))
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # The threads stand in for worker processes, each with a GIL of its own: a claim's next
    # statement must not wait out another thread's 5 ms slice (Python's default) per round trip.
    sys.setswitchinterval(args.switch_ms / 1000)
    seen = Seen()
    _time_the_claims(seen)
    ready, go = threading.Barrier(args.threads + 1), threading.Event()
    threads = [threading.Thread(target=_one_worker, args=(args, os.getpid() * 1000 + i, seen,
                                                          ready, go))
               for i in range(args.threads)]
    for t in threads:
        t.start()
    ready.wait()
    Path(args.go.parent / f"ready-{os.getpid()}").touch()
    while not args.go.exists():
        time.sleep(0.01)
    seen.go_at = float(args.go.read_text())
    cpu0 = time.process_time()
    go.set()
    for t in threads:
        t.join()
    seen.cpu_s = time.process_time() - cpu0
    print(json.dumps(asdict(seen)))


def _one_worker(args: argparse.Namespace, seed: int, seen: Seen, ready: threading.Barrier,
                go: threading.Event) -> None:
    """One simulated worker: its own Storage (connections), the real loop, a sleep for a trial.
    A worker that fails to connect still meets the others at the start (it is reported with
    its traceback, and the round runs without it) instead of leaving them waiting for it."""
    import optuna

    from automl.control import loop
    from automl.storage import Storage
    from automl.storage.runs import Run

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        seen.ran.append(trial.number)
        time.sleep(args.trial_s)
        return x

    st: Any = None
    try:
        st = Storage(args.storage, create=False, heartbeat_interval=args.heartbeat,
                     grace_period=3 * args.heartbeat)
        study = st.load_study(args.study, sampler=optuna.samplers.RandomSampler(seed=seed))
        study.get_trials(deepcopy=False)  # both engines connected before the start
    except Exception:  # noqa: BLE001 - reported, counted by the parent
        seen.errors.append("setup: " + traceback.format_exc()[-2000:])
        study = None
    ready.wait()
    go.wait()
    if args.stagger:  # steady state: workers already at every point of a trial, not all at 0
        time.sleep(random.Random(seed).uniform(0, args.trial_s))
    try:
        if study is not None:
            loop.optimize(study, objective, st, Run(args.run_id, args.study, args.trials,
                                                    args.trials, resumed=True), poll_s=0.2)
    except Exception:  # noqa: BLE001 - reported, counted by the parent
        seen.errors.append(traceback.format_exc()[-2000:])
    finally:
        if st is not None:
            st.close()


def _time_the_claims(seen: Seen) -> None:
    """Time each claim (the loop's ``_claim``, looked up by ``optimize`` at each call) and each
    hold of the claim lock: ``claim_lock`` where the claims use it, else the study lease of
    the code before it (the loop's ``lease``)."""
    import contextlib
    import importlib

    from automl.control import loop

    claim = loop._claim

    def timed_claim(*a: Any, **k: Any) -> Any:
        t0 = time.time()
        out = claim(*a, **k)
        seen.claims.append((t0 - seen.go_at, time.time() - t0,
                            out if isinstance(out, str) else "trial"))
        return out

    loop._claim = timed_claim
    try:
        where, name = importlib.import_module("automl.storage.claims"), "claim_lock"
    except ImportError:
        where, name = loop, "lease"
    lock = getattr(where, name)

    @contextlib.contextmanager
    def timed_lock(*a: Any, **k: Any) -> Any:
        with lock(*a, **k) as got:
            t0 = time.perf_counter()
            yield got
        seen.held.append(time.perf_counter() - t0)

    setattr(where, name, timed_lock)


def _peak_connections(st: Any, stop: threading.Event, peak: list[int]) -> None:
    from automl.storage.capacity import database_connections

    while not stop.wait(0.2):
        peak[0] = max(peak[0], database_connections(st))


def _launch(args: argparse.Namespace, name: str, run_id: int, tmp: Path
            ) -> list[subprocess.Popen[str]]:
    """Start the worker processes and wait until every worker in them is connected."""
    procs_n = max(1, min(args.procs, args.workers))
    sizes = [args.workers // procs_n + (i < args.workers % procs_n) for i in range(procs_n)]
    env = {**os.environ, "AUTOML_DB_POOL_SIZE": "1",
           "AUTOML_DB_LEASE_WAIT": str(max(120, 10 * args.workers))}  # as the launchers set
    base = [sys.executable, __file__, "--worker", "--storage", args.storage, "--study", name,
            "--run-id", str(run_id), "--trials", str(args.trials), "--trial-s",
            str(args.trial_s), "--heartbeat", str(args.heartbeat), "--go", str(tmp / "go"),
            "--switch-ms", str(args.switch_ms)] + (["--code", str(args.code)] if args.code else [])
    base += ["--stagger"] if args.stagger else []
    procs = [subprocess.Popen([*base, "--threads", str(n)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in sizes]
    while len(list(tmp.glob("ready-*"))) < procs_n:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.1)
    return procs


def one_round(args: argparse.Namespace) -> dict[str, Any]:
    import optuna

    from automl.storage import Storage
    from automl.storage.runs import start_or_resume
    from benchmarks.common import busy_cpu_s

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = Storage(args.storage)
    name = f"claims-{args.workers}-{uuid.uuid4().hex[:6]}"
    st.create_study(name, direction="maximize")
    run = start_or_resume(st, name, "bench", args.trials, 0)
    tmp = Path(tempfile.mkdtemp(prefix="claims-"))
    t_start = time.monotonic()
    procs = _launch(args, name, run.id, tmp)
    startup_s = time.monotonic() - t_start
    peak, stop = [0], threading.Event()
    sampler = threading.Thread(target=_peak_connections, args=(st, stop, peak), daemon=True)
    if not st.is_sqlite:
        sampler.start()
    t0, busy0 = time.time(), busy_cpu_s()
    (tmp / "go.tmp").write_text(repr(t0))
    (tmp / "go.tmp").replace(tmp / "go")  # whole, never half-written
    outs = [p.communicate(timeout=3600) for p in procs]
    run_s, busy = time.time() - t0, busy_cpu_s()
    stop.set()
    if sampler.is_alive():
        sampler.join()
    seen = [Seen(**json.loads(out.strip().splitlines()[-1])) for out, _ in outs if out.strip()]
    crashed = [err.strip()[-2000:] for p, (_, err) in zip(procs, outs, strict=True)
               if p.returncode != 0 and err.strip()]
    trials = st.frozen_trials(name)
    st.close()
    return {"workers": args.workers, "processes": len(procs), "trials": args.trials,
            "trial_s": args.trial_s, "heartbeat_s": args.heartbeat, "switch_ms": args.switch_ms,
            "stagger": args.stagger, "code": str(args.code) if args.code else "this checkout",
            **_summary(args.trials, run.id, trials, seen, crashed),
            "startup_s": round(startup_s, 1), "run_s": round(run_s, 2),
            "trials_per_s": round(args.trials / run_s, 1), "peak_db_connections": peak[0],
            "worker_cpu_ms_per_trial": round(1000 * sum(s.cpu_s for s in seen) / args.trials, 1),
            "machine_cpu_ms_per_trial": (round(1000 * (busy - busy0) / args.trials, 1)
                                         if busy is not None and busy0 is not None else None)}


def _summary(requested: int, run_id: int, trials: list[Any], seen: list[Seen],
             crashed: list[str]) -> dict[str, Any]:
    """Claims/s and latencies from what the workers saw; lost and duplicated from the study."""
    from automl.control.loop import counts, tally

    t = tally(trials, run_id)
    counted = sum(counts(x) for x in trials)
    ran = [n for s in seen for n in s.ran]
    got = [c for s in seen for c in s.claims if c[2] == "trial"]
    waits = [c[1] for s in seen for c in s.claims if c[2] == "wait"]
    span = max((c[0] + c[1] for c in got), default=0.0)
    lat, held = [c[1] for c in got], [h for s in seen for h in s.held]
    errors = [e for s in seen for e in s.errors] + crashed
    return {
        "claims": len(got), "claims_per_s": round(len(got) / span, 1) if span else None,
        "claim_p50_s": _pct(lat, 0.5), "claim_p99_s": _pct(lat, 0.99),
        "claim_max_s": round(max(lat), 3) if lat else None,
        "wait_answers": len(waits), "wait_p99_s": _pct(waits, 0.99),
        "lock_held_p50_s": _pct(held, 0.5), "lock_held_p99_s": _pct(held, 0.99),
        "finished": t.finished, "counted_in_study": counted,
        "lost": max(0, requested - counted),
        "duplicated": (len(ran) - len(set(ran))) + max(0, counted - requested),
        "left_running": t.running, "left_waiting": t.waiting,
        "worker_errors": len(errors), "first_errors": errors[:3],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", required=True)
    ap.add_argument("--workers", type=int, default=256)
    ap.add_argument("--trials", type=int, help="trials requested (default: 4 per worker)")
    ap.add_argument("--trial-s", type=float, default=1.0, help="each trial's sleep")
    ap.add_argument("--procs", type=int, default=16, help="processes the workers are spread on")
    ap.add_argument("--heartbeat", type=int, default=10, help="heartbeat interval (grace: 3x)")
    ap.add_argument("--switch-ms", type=float, default=0.5,
                    help="the worker processes' thread switch interval (Python's: 5)")
    ap.add_argument("--code", type=Path, help="run the workers on this checkout instead")
    ap.add_argument("--stagger", action="store_true",
                    help="each worker starts after a random part of a trial (steady state)")
    ap.add_argument("--quick", action="store_true", help="3 trials per worker of 0.2 s")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--study", help=argparse.SUPPRESS)
    ap.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_process(args)
        return
    if args.quick:
        args.trial_s, args.trials = 0.2, args.trials or 3 * args.workers
    args.trials = args.trials or 4 * args.workers
    import platform

    sys.path.insert(0, str(ROOT))
    result = one_round(args)
    print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": f"{platform.node()} {os.cpu_count()} CPUs",
                                         "result": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
