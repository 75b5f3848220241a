"""What the search asks of earlier candidates: rung standings and repeated proposals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from automl.config import cost_known_among
from automl.storage.schema import EpochRow, TrialRow

if TYPE_CHECKING:
    from automl.storage.store import Storage

CANDIDATE_ATTR = "candidate"  # Optuna user attribute: the content hash of a finished candidate
RUNG_COSTS = ("params", "flops", "latency_ms")  # known before training


# Best validation accuracy with ties broken by the mean accuracy over the epochs so far, as one
# number: accuracies differ by at least 1/n_val >= 1e-6, far more than TIE_BREAK times a mean.
TIE_BREAK = 1e-9


def rung_entries(storage: Storage, study: str, epoch: int, cost: str
                 ) -> list[tuple[int, float, float, str | None]]:
    """``(trial number, best quality up to epoch, cost, family)`` of every trial of the study that
    reached ``epoch``, whichever worker or machine ran it. Quality is the best validation
    accuracy, ties broken by the mean validation accuracy up to ``epoch`` (on a small validation
    split many candidates tie, and cost alone would then decide; the candidate that got there
    sooner and held it wins). Not the validation loss: it would favour the confident networks
    plain cross-entropy trains over smoothed or noise-robust losses. ``cost`` is a column known
    before training (peak memory is not: FLOPs stand in for it)."""
    column = getattr(TrialRow, cost_known_among(cost, RUNG_COSTS))
    reached = select(EpochRow.trial_id).where(EpochRow.epoch == epoch)
    quality = func.max(EpochRow.val_accuracy) + TIE_BREAK * func.avg(EpochRow.val_accuracy)
    # A coded table's family is its body's (mlp, cnn1d, ...): the encoder is not a family.
    family = func.coalesce(TrialRow.arch["body"]["kind"].as_string(),
                           TrialRow.arch["kind"].as_string())
    q = (
        select(TrialRow.number, quality, column, family)
        .join(EpochRow, EpochRow.trial_id == TrialRow.id)
        .where(TrialRow.study_name == study, EpochRow.epoch <= epoch,
               TrialRow.id.in_(reached), column.is_not(None))
        .group_by(TrialRow.id, TrialRow.number, column, family)
    )
    with storage.session() as s:
        return [(int(n), float(acc), float(c), kind) for n, acc, c, kind in s.execute(q)]


def find_candidate(storage: Storage, study: str, key: str) -> tuple[int, str] | None:
    """The earliest finished trial (number, state) whose candidate hash is ``key``."""
    from automl.storage.optuna_tables import trials_with_attr

    with storage.connection() as conn:
        found = trials_with_attr(conn, study, CANDIDATE_ATTR, json.dumps(key))
    return found[0] if found else None


def best_val_accuracy(storage: Storage, study: str) -> float | None:
    """The best validation accuracy of the study's trained, completed candidates (repeats and
    candidates cut short by the deadline excluded)."""
    q = select(func.max(TrialRow.val_accuracy)).where(
        TrialRow.study_name == study, TrialRow.state == "COMPLETE", TrialRow.reason.is_(None))
    with storage.session() as s:
        value = s.scalar(q)
    return None if value is None else float(value)


def best_cv_accuracy(storage: Storage, study: str) -> float | None:
    """The best cross-validated accuracy among the study's completed candidates."""
    from automl.storage.optuna_tables import attr_values

    with storage.connection() as conn:
        values = [float(v) for v in attr_values(conn, study, "cv_accuracy") if v is not None]
    return max(values, default=None)
