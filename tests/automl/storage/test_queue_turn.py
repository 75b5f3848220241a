"""Candidates queued by a trial callback (the loss probes, the strong starts) are counted
against the run's room under the study's claim lock, on SQLite and PostgreSQL: a peer that
claims a trial while the callback queues cannot leave a queued candidate waiting when the run
meets its target (two processes on one study left a probe WAITING in CI, 2026-12-07)."""

from __future__ import annotations

import threading
import time
from typing import Any

import optuna
import pytest

from automl import api
from automl.control.cheap_start import START_ATTR, StrongStarts
from automl.control.loop import RUN_ATTR, tally
from automl.control.loss_probes import PROBE, PROBE_AFTER, LossProbes
from automl.policy.budget import Deadline
from automl.storage import Storage
from automl.storage.claims import Claims
from automl.storage.runs import Run, start_or_resume

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

PEER_HOLDS_S = 0.5  # long enough for an unlocked count to run while the peer claims


def _run_with_completed(url: str, name: str, completed: int, requested: int
                        ) -> tuple[Storage, Any, Run]:
    st = Storage(url)
    study = st.create_study(name, direction="maximize")
    run = start_or_resume(st, name, "fp", requested, 0)
    claims = Claims(st, study, RUN_ATTR, run.id)
    for i in range(completed):
        with claims.locked() as turn:
            started = turn.start({})
        trial = claims.open(started).trial
        trial.suggest_int("n_layers", 1, 3)
        study.tell(trial, 0.5 + i / 10)
    return st, study, run


def _peer_claims_one(url: str, name: str, run: Run) -> tuple[threading.Thread, list[int]]:
    """A peer worker that takes the claim lock, counts, and claims one trial after
    :data:`PEER_HOLDS_S`; returns once it holds the lock."""
    holding = threading.Event()
    claimed: list[int] = []

    def claim() -> None:
        peer = Storage(url, create=False)
        try:
            claims = Claims(peer, peer.load_study(name), RUN_ATTR, run.id)
            with claims.locked() as turn:
                turn.states()
                holding.set()
                time.sleep(PEER_HOLDS_S)
                claimed.append(turn.start({}).trial_id)
        finally:
            holding.set()
            peer.close()

    thread = threading.Thread(target=claim)
    thread.start()
    assert holding.wait(60)
    return thread, claimed


def _waiting(study: Any) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))


def test_the_probes_wait_for_a_peers_claim_and_queue_only_what_still_fits(
        storage_url: str) -> None:
    # Room for both probes (2 of 5 left) until the peer claims one: then neither fits.
    st, study, run = _run_with_completed(storage_url, "probes", PROBE_AFTER, PROBE_AFTER + 2)
    probes = LossProbes(api.load_config(None, ["search.arch=mlp"]), run, None, st)
    assert len(probes.probes) == 2
    last = study.get_trials()[-1]
    peer, claimed = _peer_claims_one(storage_url, "probes", run)
    probes(study, last)
    peer.join(60)
    assert claimed and not _waiting(study) and not probes.done
    now = tally(study.get_trials(deepcopy=False), run.id)
    assert now.finished + now.running <= run.requested
    # The peer's trial fails without a reason of its own (it does not count): room again.
    rdb = st._optuna
    rdb.set_trial_state_values(claimed[0], state=optuna.trial.TrialState.FAIL)
    probes(study, last)
    assert [t.user_attrs[START_ATTR] for t in _waiting(study)] == [PROBE, PROBE]
    assert probes.done
    st.close()


def test_a_strong_start_waits_for_a_peers_claim(storage_url: str) -> None:
    # One trial left until the peer claims it: the strong start must not be queued.
    st, study, run = _run_with_completed(storage_url, "strong", 1, 2)
    strong = StrongStarts([{"n_layers": 2}], run, Deadline(), st)
    last = study.get_trials()[-1]
    peer, claimed = _peer_claims_one(storage_url, "strong", run)
    strong(study, last)
    peer.join(60)
    assert claimed and not _waiting(study) and strong.pending
    st._optuna.set_trial_state_values(claimed[0], state=optuna.trial.TrialState.FAIL)
    strong(study, last)
    assert [t.user_attrs[START_ATTR] for t in _waiting(study)] == ["strong"]
    st.close()
