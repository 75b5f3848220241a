"""The trial lifecycle steps (automl/storage/lifecycle.py) through Optuna's public API, the one
wrapped use of Optuna internals (automl/storage/optuna_private.py), which fails here first if
Optuna changes it, and the storage wall: no other package touches Optuna's private names or
the storage's engine and Optuna handle."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from automl.storage import Storage, lifecycle
from automl.storage.optuna_private import FIXED_PARAMS_ATTR, enqueued_params

ROOT = Path(__file__).resolve().parents[3]
WALL = re.compile(r"\.optuna\b|(?<!sqlalchemy)\.engine\b|\b_storage\b|\b_trial_id|\b_study_id"
                  r"|\b_heartbeat\b|optuna\.storages\._|optuna\.study\._|optuna\.trial\._")


def test_enqueued_params_is_where_optuna_keeps_a_queued_candidate(tmp_path: Path) -> None:
    st = Storage(f"sqlite:///{tmp_path / 'q.db'}")
    study = st.create_study("q")
    study.enqueue_trial({"x": 0.25, "k": "a"})
    trial = study.ask()
    now = lifecycle.frozen(st, lifecycle.trial_id(st, trial))
    assert FIXED_PARAMS_ATTR in now.system_attrs  # Optuna renamed it: fix optuna_private
    assert enqueued_params(now) == {"x": 0.25, "k": "a"}
    assert enqueued_params(lifecycle.frozen(st, lifecycle.trial_id(st, study.ask()))) == {}
    st.close()


def test_trial_id_is_optunas_own(tmp_path: Path) -> None:
    st = Storage(f"sqlite:///{tmp_path / 'i.db'}")
    study = st.create_study("i")
    trials = [study.ask() for _ in range(3)]
    assert [lifecycle.trial_id(st, t) for t in trials] == [t._trial_id for t in trials]
    st.close()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_heartbeat_beats_while_the_block_runs(tmp_path: Path) -> None:
    from sqlalchemy import text

    st = Storage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=1, grace_period=2)
    study = st.create_study("h")
    trial = study.ask()
    tid = lifecycle.trial_id(st, trial)

    def beat() -> object:
        with st.connection() as conn:
            return conn.execute(text("SELECT heartbeat FROM trial_heartbeats WHERE trial_id = :t"),
                                {"t": tid}).scalar()

    assert beat() is None
    lifecycle.first_heartbeat(st, tid)
    first = beat()
    with lifecycle.heartbeat(st, tid):
        time.sleep(2.3)
    assert beat() is not None and beat() > first  # type: ignore[operator]
    study.tell(trial, 1.0)
    plain = Storage(f"sqlite:///{tmp_path / 'p.db'}")
    assert not lifecycle.heartbeats_enabled(plain)
    with lifecycle.heartbeat(plain, 0):  # nothing to beat without heartbeats
        pass
    st.close()
    plain.close()


def test_requeue_fails_the_trial_and_queues_its_candidate(tmp_path: Path) -> None:
    st = Storage(f"sqlite:///{tmp_path / 'r.db'}")
    study = st.create_study("r")
    study.enqueue_trial({"x": 1})
    trial = study.ask()
    trial.suggest_int("x", 0, 5)
    trial.suggest_float("y", 0.0, 1.0)
    lifecycle.requeue(st, study, trial, lifecycle.trial_id(st, trial), "interrupted")
    failed, queued = study.get_trials(deepcopy=False)
    assert failed.state.name == "FAIL" and failed.user_attrs["reason"] == "interrupted"
    assert queued.state.name == "WAITING" and queued.user_attrs[lifecycle.RETRY_ATTR] == 0
    assert enqueued_params(queued) == failed.params
    st.close()


def test_no_package_reaches_through_the_storage_wall() -> None:
    hits = []
    for folder in ("automl", "dashboard", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("automl/storage/"):
                continue
            hits += [f"{rel}:{n}: {line.strip()}"
                     for n, line in enumerate(path.read_text().splitlines(), 1)
                     if WALL.search(line)]
    assert not hits, "\n".join(hits)
