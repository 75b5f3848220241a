"""Bring the project's trial rows in line with Optuna's states.

A worker killed outright (SIGKILL, power cut) leaves both its Optuna trial and the project's
row RUNNING; the next claim's stale-trial check fails (and re-queues) the Optuna trial, but only
in Optuna's table. Readers take Optuna's state as authoritative; queries over the project's rows
alone (rung standings, best accuracy) and anyone reading the tables directly must not see a
RUNNING trial that no worker runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from automl.storage.optuna_tables import _STATE, _studies, _trials
from automl.storage.schema import TrialRow, utcnow

if TYPE_CHECKING:
    from automl.storage.store import Storage

STOPPED = "interrupted: its worker stopped without finishing it"


def reconcile_trials(storage: Storage, study: str) -> int:
    """Give every project row still RUNNING whose Optuna trial is not RUNNING Optuna's state;
    returns how many rows changed. Cheap: one indexed SELECT when nothing is stale."""
    q = (
        select(TrialRow, _STATE.label("optuna_state"))
        .join(_studies, _studies.c.study_name == TrialRow.study_name)
        .join(_trials, and_(_trials.c.study_id == _studies.c.study_id,
                            _trials.c.number == TrialRow.number))
        .where(TrialRow.study_name == study, TrialRow.state == "RUNNING", _STATE != "RUNNING")
    )
    changed = 0
    with storage.session() as s:
        for row, state in s.execute(q).all():
            state = str(state)
            # WAITING cannot follow RUNNING in Optuna; a row that says so is read as failed.
            row.state = state if state in ("COMPLETE", "PRUNED", "FAIL") else "FAIL"
            if row.state == "FAIL" and not row.reason:
                row.reason = STOPPED
            row.finished_at = row.finished_at or utcnow()
            changed += 1
    return changed


def project_states(storage: Storage, study: str) -> dict[int, str]:
    """The state the project's own row gives each trial number (checks and benchmarks compare
    it with Optuna's)."""
    with storage.session() as s:
        rows = s.execute(select(TrialRow.number, TrialRow.state)
                         .where(TrialRow.study_name == study)).all()
    return {int(n): str(state) for n, state in rows}
