"""Leaderboard rows from trial records: ranked by accuracy against cost. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from automl.ranking import rank
from automl.storage.records import TrialRecord

# The leaderboard's columns, in order (also the keys of `automl leaderboard --json`).
COLUMNS = (
    "rank", "trial", "state", "val_accuracy", "val_loss", "cv_accuracy", "validation",
    "test_accuracy", "params", "flops",
    "latency_ms", "peak_memory_mb", "comm_bytes_per_step", "train_seconds", "pareto", "arch_space",
    "loss_formula", "arch", "loss", "hparams", "reason",
)


def leaderboard(records: Sequence[TrialRecord], cost: str | None = "flops",
                pareto_only: bool = False, top: int | None = None) -> list[dict[str, Any]]:
    """Completed trials first, by Pareto rank on (val_accuracy, cost) then accuracy; then the
    others (repeats answered from an earlier trial's result, pruned, failed, running) by trial
    number. Test accuracy never affects the order."""
    complete = [r for r in records if r.state == "COMPLETE" and r.duplicate_of is None]
    ranked_numbers = {r.number for r in complete}
    others = sorted((r for r in records if r.number not in ranked_numbers),
                    key=lambda r: r.number)
    ranked = rank(complete, "val_accuracy", cost)
    rows = []
    for ranked_item in ranked:
        rows.append(_row(ranked_item.item, ranked_item.rank, ranked_item.pareto))
    if pareto_only:
        rows = [r for r in rows if r["pareto"]]
    else:
        rows += [_row(r, None, False) for r in others]
    return rows[:top] if top else rows


def _row(r: TrialRecord, rank_: int | None, pareto: bool) -> dict[str, Any]:
    """One row in ``COLUMNS`` order; every column but these three is the record's attribute."""
    own = {"rank": rank_, "trial": r.number, "pareto": pareto}
    return {col: own[col] if col in own else getattr(r, col) for col in COLUMNS}
