"""Chaos with SIGINT/SIGTERM (``benchmarks/chaos.py --signals N``).

Rounds of a tiny study (digits, an MLP, one epoch a trial, a fixed number of trials) on each
storage back end. In a round, ``automl search`` is started and sent SIGINT or SIGTERM at a random
instant (a quarter anywhere in its first seconds, start-up included; the rest within 2.5 s after
its first trial appeared, so that they land in claiming, sampling, training, writing curves,
saving weights, telling Optuna...), one in five followed by a second signal; the same command is
started again until the round's run finishes by itself. After every exit, and at the end of each
round, the database is checked:

* no trial RUNNING after any exit, in Optuna's table or in the project's ``automl_trials``;
* each finished round holds exactly the requested number of COMPLETE + PRUNED trials;
* no candidate lost: every interrupted trial was queued again (a trial ``retry_of`` it, with its
  parameters) and nothing is left WAITING;
* the project's rows agree with Optuna's states.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from anywhere
OUT = Path(__file__).resolve().parent / "out" / "chaos.json"
CLEAN_EXITS = {0, 130, 143}  # finished first; SIGINT; SIGTERM


def digits_npz(folder: str) -> str:
    """scikit-learn's digits as a .npz: the searches then start without importing sklearn
    (start-up is most of each cycle)."""
    from benchmarks.common import digits_xy

    x, y = digits_xy()
    path = Path(folder) / "digits.npz"
    np.savez(path, x=x, y=y)
    return str(path)


def command(url: str, study: str, trials: int, data: str) -> list[str]:
    return [sys.executable, "-m", "automl", "search", "--storage", url, "--study", study,
            "--data", data, "--trials", str(trials), "--epochs", "1", "--quiet",
            "--set", "search.arch=mlp", "--set", "trainer.num_threads=1",
            "--set", "study.heartbeat_interval=1", "--set", "study.grace_period=3"]


_STORES: dict[str, Any] = {}  # one read-only handle per back end (each has its own thread)


def _trials(url: str, study: str) -> tuple[list[Any], dict[int, str]]:
    """Optuna's trials and the project's row states ([] and {} before the study exists)."""
    from automl.errors import StorageError
    from automl.storage import open_storage
    from automl.storage.reconcile import project_states

    try:
        st = _STORES.get(url) or open_storage(url, create=False, readonly=True)
        _STORES[url] = st
        return st.frozen_trials(study), project_states(st, study)
    except StorageError:  # not created yet, or still being created
        if url in _STORES:
            _STORES.pop(url).close()
        return [], {}


def _wait_first_trial(url: str, study: str, pid: int, proc: subprocess.Popen[bytes]) -> None:
    worker = f"{socket.gethostname()}:{pid}"
    end = time.monotonic() + 90
    while time.monotonic() < end and proc.poll() is None:
        if any(t.user_attrs.get("worker") == worker for t in _trials(url, study)[0]):
            return
        time.sleep(0.25)  # each look reads the study: keep the load off the search


def check_exit(url: str, study: str, stats: dict[str, Any]) -> None:
    trials, rows = _trials(url, study)
    stats["optuna_running_after_exit"] += sum(t.state.name == "RUNNING" for t in trials)
    stats["project_running_after_exit"] += sum(s == "RUNNING" for s in rows.values())


def check_round(url: str, study: str, requested: int, stats: dict[str, Any]) -> None:
    from automl.control.loop import counts

    trials, rows = _trials(url, study)
    by_number = {t.number: t for t in trials}
    done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    counted = sum(counts(t) for t in trials)
    stats["rounds"] += 1
    stats["rounds_exact"] += int(done == requested and counted == requested)
    stats["finished_total"] += done
    stats["requested_total"] += requested
    retries: dict[int, Any] = {}
    for t in trials:
        source = t.user_attrs.get("retry_of", t.system_attrs.get("failed_trial"))
        if source is not None:
            retries[int(source)] = t
    for t in trials:
        if t.state.name == "FAIL" and not counts(t):
            stats["interrupted_trials"] += 1
            retry = retries.get(t.number)
            want = {**t.system_attrs.get("fixed_params", {}), **t.params}
            if retry is None:
                stats["candidates_lost"] += 1
            elif any(retry.params.get(k) != v for k, v in want.items()):
                stats["candidates_changed"] += 1
        elif t.state.name in ("WAITING", "RUNNING"):
            stats["candidates_lost"] += 1  # queued or claimed, never finished
    for number, state in rows.items():
        frozen = by_number.get(number)
        if frozen is not None and frozen.state.name != state:
            stats["rows_disagreeing"] += 1


@dataclass
class _Tally:
    """What one back end's rounds counted: the checks, the exit codes, the exit times."""

    stats: dict[str, Any]
    exits: Counter[str] = field(default_factory=Counter)
    exit_s: list[float] = field(default_factory=list)

    def record_exit(self, rc: int, err: bytes, url: str, study: str) -> None:
        self.exits["0 (finished)" if rc == 0 else str(rc)] += 1
        self.stats["tracebacks"] += b"Traceback" in err
        check_exit(url, study, self.stats)


def _send_signals(proc: subprocess.Popen[bytes], rng: random.Random,
                  stats: dict[str, Any]) -> None:
    """SIGINT or SIGTERM, one time in five followed by the other one."""
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    proc.send_signal(sig)
    stats["signals"] += 1
    stats[sig.name] += 1
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT if sig == signal.SIGTERM else signal.SIGTERM)
            stats["second_signals"] += 1


def _wait_exit(proc: subprocess.Popen[bytes], stats: dict[str, Any]) -> tuple[bytes, float]:
    """The signalled process's stderr and how long it took to exit (killed after 120 s: a hang)."""
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        stats["hangs"] += 1
        proc.kill()
        _, err = proc.communicate()
    return err, time.monotonic() - t0


def _run_round(url: str, study: str, cmd: list[str], tmp: str, rng: random.Random,
               tally: _Tally, signalling: Callable[[], bool]) -> None:
    """Start ``cmd``, signal it, start it again, until a run finishes by itself."""
    while True:
        send = signalling()
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if send:
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0.2, 8.0))
            else:
                _wait_first_trial(url, study, proc.pid, proc)
                time.sleep(rng.uniform(0.0, 2.5))
        if not send or proc.poll() is not None:
            _, err = proc.communicate(timeout=900)
        else:
            _send_signals(proc, rng, tally.stats)
            err, seconds = _wait_exit(proc, tally.stats)
            tally.exit_s.append(seconds)
        tally.record_exit(proc.returncode, err, url, study)
        if proc.returncode == 0:
            return


def run_backend(name: str, url: str, n_signals: int, trials: int, seed: int,
                max_seconds: float, log: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    tally = _Tally(Counter({c: 0 for c in COLUMNS[1:-2]}))
    stats = tally.stats
    tmp = tempfile.mkdtemp(prefix=f"automl-sig-{name}-")
    data = digits_npz(tmp)
    start = time.monotonic()

    def signalling() -> bool:
        return stats["signals"] < n_signals and time.monotonic() - start < max_seconds

    round_no = 0
    while signalling():
        study, round_no = f"sig{round_no}", round_no + 1
        _run_round(url, study, command(url, study, trials, data), tmp, rng, tally, signalling)
        check_round(url, study, trials, stats)
        print(f"[{name}] round {round_no}: {stats['signals']} signals so far, "
              f"{stats['rounds_exact']}/{stats['rounds']} rounds exact, "
              f"lost {stats['candidates_lost']}", file=log, flush=True)
    exit_s = sorted(tally.exit_s)
    return {"storage": name, **stats, "exit_codes": dict(tally.exits),
            "exit_seconds_median": round(exit_s[len(exit_s) // 2], 2) if exit_s else None,
            "exit_seconds_max": round(exit_s[-1], 2) if exit_s else None,
            "seconds": round(time.monotonic() - start, 1)}


def _pg_database(base: str) -> tuple[str, Any]:
    """A fresh database on the server of ``base`` and a function that drops it."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(base)
    name = f"automl_chaos_{uuid.uuid4().hex[:10]}"
    info: dict[str, Any] = dict(host=u.host, port=u.port or 5432, user=u.username,
                                password=u.password, dbname=u.database)
    with psycopg.connect(**info, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(**info, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return u.set(database=name).render_as_string(hide_password=False), drop


def ok(r: dict[str, Any]) -> bool:
    return (r["rounds"] > 0 and r["rounds_exact"] == r["rounds"] and not r["hangs"]
            and not r["candidates_lost"] and not r["candidates_changed"]
            and not r["optuna_running_after_exit"] and not r["project_running_after_exit"]
            and not r["rows_disagreeing"])


COLUMNS = ("storage", "signals", "SIGINT", "SIGTERM", "second_signals", "rounds_exact", "rounds",
           "finished_total", "requested_total", "interrupted_trials", "candidates_lost",
           "candidates_changed", "optuna_running_after_exit", "project_running_after_exit",
           "rows_disagreeing", "hangs", "tracebacks", "exit_seconds_max", "seconds")


def main(args: argparse.Namespace) -> int:
    from benchmarks.common import cpu_model, write_json

    n = 10 if args.quick and not args.signals else args.signals
    backends = ["sqlite"] if args.quick else args.backends.split(",")
    jobs: dict[str, tuple[str, Any]] = {}
    tmp = tempfile.mkdtemp(prefix="automl-sig-")
    for name in backends:
        if name == "sqlite":
            jobs[name] = (f"sqlite:///{tmp}/chaos.db", None)
        elif name == "postgres":
            base = args.pg_url or os.environ.get("AUTOML_TEST_POSTGRES_URL")
            if base:
                jobs[name] = _pg_database(base)
            else:
                print("postgres: skipped (no --pg-url or $AUTOML_TEST_POSTGRES_URL)")
    try:
        with ThreadPoolExecutor(len(jobs) or 1) as pool:
            futures = {name: pool.submit(run_backend, name, url, n, args.round_trials,
                                         args.seed + i, args.max_seconds, sys.stdout)
                       for i, (name, (url, _)) in enumerate(jobs.items())}
            results = [f.result() for f in futures.values()]
    finally:
        for st in _STORES.values():
            st.close()
        for _, drop in jobs.values():
            if drop is not None:
                drop()
    for r in results:
        r["ok"] = ok(r)
    print("\n" + " | ".join(COLUMNS + ("ok",)))
    for r in results:
        print(" | ".join(str(r.get(c, 0)) for c in COLUMNS + ("ok",)), "| exits", r["exit_codes"])
    write_json(args.json or OUT, {"mode": "signals", "machine": cpu_model(), "seed": args.seed,
                                  "round_trials": args.round_trials, "results": results})
    return 0 if results and all(r["ok"] for r in results) else 1
