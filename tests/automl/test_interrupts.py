"""Ctrl-C / SIGTERM at the instants that used to leave trials RUNNING or lose a candidate: real
signals sent to this process, the real runner loop on a real database (the objective is a tiny
function, not the trainer: these instants are in the loop, not in training)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from automl.control import interrupts
from automl.control.loop import INTERRUPTED, RETRY_ATTR, counts, optimize
from automl.errors import StorageError
from automl.storage import Storage
from automl.storage.reconcile import project_states
from automl.storage.runs import start_or_resume

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _signal(sig: int = signal.SIGINT) -> None:
    signal.raise_signal(sig)  # to this thread; its Python handler has run when this returns


def test_signal_is_held_until_a_safe_point() -> None:
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferring():
        _signal()
        reached.append("after the signal")  # held: a database write here completes
        with interrupts.interruptible():
            reached.append("never")  # raised on entry
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_is_terminated_and_held_sections_finish() -> None:
    steps = []
    with pytest.raises(interrupts.Terminated), interrupts.deferring(), \
            interrupts.interruptible():
        with interrupts.held():
            _signal(signal.SIGTERM)
            steps.append("write finished")
        steps.append("never")  # raised as the held section ends
    assert steps == ["write finished"]
    with pytest.raises(KeyboardInterrupt), interrupts.deferring():
        _signal()
    # outside any deferring block the default behaviour is back
    with pytest.raises(KeyboardInterrupt):
        _signal()


class _SignalAfterAsk(optuna.samplers.RandomSampler):
    """Sends SIGINT from inside ``study.ask()``, after the trial row exists: the window in which
    an interrupted worker used to leave its trial RUNNING."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.fired = False

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        super().before_trial(study, trial)
        if not self.fired:
            self.fired = True
            _signal()


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_int("y", 0, 100)
    with interrupts.interruptible():  # "training"
        time.sleep(0.01)
    return x + y


def _setup(url: str, name: str, requested: int, sampler: Any = None
           ) -> tuple[Storage, optuna.Study, Callable[[], Any]]:
    st = Storage(url)
    study = st.create_study(name, sampler=sampler)
    st.save_study(name, "val_accuracy", "flops", {}, {})
    return st, study, lambda: start_or_resume(st, name, "fp", requested, 0)


def _check_exact(study: optuna.Study, requested: int) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert sum(counts(t) for t in trials) == requested
    return trials


def test_signal_between_ask_and_first_write_leaves_nothing_running(storage_url: str) -> None:
    st, study, run = _setup(storage_url, "ask", 3, _SignalAfterAsk())
    with pytest.raises(KeyboardInterrupt):
        optimize(study, _objective, st, run())
    first, retry = study.get_trials(deepcopy=False)
    assert first.state.name == "FAIL" and first.user_attrs["reason"] == INTERRUPTED
    assert retry.state.name == "WAITING" and retry.user_attrs[RETRY_ATTR] == first.number
    optimize(study, _objective, st, run())  # the same command again
    trials = _check_exact(study, 3)
    assert trials[1].state.name == "COMPLETE"
    assert trials[1].params == first.params  # the same candidate, re-run
    st.close()


def test_interrupted_retry_keeps_its_queued_candidate(storage_url: str) -> None:
    """A queued candidate interrupted before it sampled anything is queued again whole."""
    st, study, run = _setup(storage_url, "requeue", 1)
    study.enqueue_trial({"x": 0.25, "y": 7})

    def stop_first(trial: optuna.Trial) -> float:
        if trial.number == 0:
            with interrupts.interruptible():
                _signal(signal.SIGTERM)
        return _objective(trial)

    with pytest.raises(interrupts.Terminated):
        optimize(study, stop_first, st, run())
    optimize(study, _objective, st, run())
    trials = _check_exact(study, 1)
    assert trials[0].state.name == "FAIL" and trials[0].params == {}
    assert trials[1].params == {"x": 0.25, "y": 7} and trials[1].state.name == "COMPLETE"
    st.close()


def test_signal_after_training_keeps_the_result(storage_url: str) -> None:
    """Stopped between training and telling Optuna: the result is stored, nothing re-runs."""
    st, study, run = _setup(storage_url, "late", 2)

    def objective(trial: optuna.Trial) -> float:
        value = _objective(trial)
        if trial.number == 0:
            _signal()  # lands while the result is written
        return value

    with pytest.raises(KeyboardInterrupt):
        optimize(study, objective, st, run())
    [only] = study.get_trials(deepcopy=False)
    assert only.state.name == "COMPLETE"
    optimize(study, objective, st, run())
    assert len(_check_exact(study, 2)) == 2
    st.close()


def test_storage_failure_requeues_the_candidate_and_count_stays_exact(storage_url: str) -> None:
    st, study, run = _setup(storage_url, "dbfail", 2)
    failed: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        value = _objective(trial)
        if not failed:
            failed.append(trial.number)
            raise StorageError("storage sqlite:///x.db: database is locked")
        return value

    optimize(study, objective, st, run())
    trials = _check_exact(study, 2)
    assert len(trials) == 3 and not counts(trials[0])
    assert trials[0].user_attrs["reason"].startswith(INTERRUPTED)
    assert trials[1].user_attrs[RETRY_ATTR] == 0 and trials[1].params == trials[0].params
    assert project_states(st, "dbfail") == {}  # this objective writes no project rows
    st.close()


# The child stops where ``main`` imports the CLI's commands (typer, rich: the slow part of the
# start-up), after writing a file that says so; ``runpy`` is what ``python -m automl`` runs.
_STOP_IN_IMPORT = """
import importlib.abc, os, pathlib, runpy, sys, time

class Stop(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "automl.cli.app":
            pathlib.Path(os.environ["AUTOML_TEST_READY"]).touch()
            time.sleep(120)
        return None

sys.meta_path.insert(0, Stop())
runpy.run_module("automl", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_the_cli_imports_exits_quietly(sig: int, code: int, tmp_path: Path) -> None:
    """The console script's first act: a signal before the CLI's own handlers exits 130/143
    with no traceback (the chaos run saw tracebacks from signals landing in start-up)."""
    ready = tmp_path / "importing"
    proc = subprocess.Popen([sys.executable, "-c", _STOP_IN_IMPORT, "--help"],
                            env={**os.environ, "AUTOML_TEST_READY": str(ready)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a window
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), proc.communicate(timeout=60)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (code, "") and "Traceback" not in err, err
