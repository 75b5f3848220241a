"""Trial records -> the DataFrames the pages draw. Pure: no Streamlit, no database.

Ranking and Pareto membership come from :mod:`automl.policy.ranking`, so
the dashboard and ``automl leaderboard`` can never disagree about who is on the front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

# COSTS is re-exported: the pages label costs with it.
from automl.config import COSTS, DEFAULT_COST  # noqa: F401
from automl.policy.ranking import Entry, leaderboard_order
from automl.policy.ranking import leaderboard_rows as leaderboard
from automl.storage.records import StudySummary, TrialRecord, arch_summary

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
LEADERBOARD_COLUMNS = (
    "trial", "rank", "state", "pareto", "val_accuracy", "test_accuracy", "params", "flops",
    "latency_ms", "peak_memory_mb", "train_seconds", "arch_space", "arch", "loss_family",
    "loss_formula", "reason", "started", "completed", "duplicate_of",
)
COPIED = frozenset(LEADERBOARD_COLUMNS) - {"arch", "loss_family", "started", "completed",
                                           "duplicate_of"}
# Bookkeeping the tables do not show.
HIDDEN = ("started", "duplicate_of")


def studies_frame(summaries: Sequence[StudySummary]) -> pd.DataFrame:
    """One row per study: trial counts by state, best accuracy, cost objective, last update."""
    rows = [
        {
            "study": s.name,
            "objective": s.objective,
            "cost": s.cost,
            "trials": s.n_trials,
            **{state.lower(): s.states.get(state, 0) for state in STATES[:4]},
            "best_val_accuracy": s.best_val_accuracy,
            "last_update": s.last_update,
        }
        for s in summaries
    ]
    columns = ["study", "objective", "cost", "trials", "complete", "pruned", "fail", "running",
               "best_val_accuracy", "last_update"]
    return pd.DataFrame(rows, columns=columns)


def leaderboard_frame(records: Sequence[TrialRecord], cost: str = DEFAULT_COST
                      ) -> pd.DataFrame:
    """The leaderboard (ranked by Pareto rank on accuracy vs ``cost``) as a flat frame.

    Nested specs become a one-line architecture summary; the full specs stay in the records,
    which the trial page loads on its own.
    """
    rows = leaderboard(records, cost=cost)
    frame = pd.DataFrame.from_records(
        rows, columns=[c for c in LEADERBOARD_COLUMNS if c in COPIED or c == "arch"]
    )
    by_number = {r.number: r for r in records}
    ordered = [by_number[n] for n in frame["trial"]]
    frame["arch"] = [arch_summary(a) for a in frame["arch"]]
    frame["loss_family"] = [r.loss_family for r in ordered]
    frame["started"] = [r.datetime_start for r in ordered]
    frame["completed"] = [r.datetime_complete for r in ordered]
    frame["duplicate_of"] = pd.array([r.duplicate_of for r in ordered], dtype="Int64")
    frame = frame[list(LEADERBOARD_COLUMNS)]
    # Nullable ints keep "no rank" distinct from rank 0 without turning the column into floats.
    frame["rank"] = frame["rank"].astype("Int64")
    frame["params"] = frame["params"].astype("Int64")
    frame["pareto"] = frame["pareto"].astype(bool)
    for col in ("started", "completed"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def filter_frame(frame: pd.DataFrame, *, states: Iterable[str] | None = None,
                 loss_families: Iterable[str] | None = None,
                 arch_spaces: Iterable[str] | None = None) -> pd.DataFrame:
    """Rows whose state / loss family / architecture space is among those given (None = all)."""
    mask = pd.Series(True, index=frame.index)
    for col, allowed in (("state", states), ("loss_family", loss_families),
                         ("arch_space", arch_spaces)):
        if allowed is not None:
            mask &= frame[col].fillna("-").isin(list(allowed))
    return frame[mask]


def rerank(frame: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The rows of ``frame`` ranked among themselves on (accuracy, ``cost``) by
    :func:`automl.policy.ranking.leaderboard_order`, the very function behind
    :func:`automl.policy.ranking.leaderboard_rows` (``automl leaderboard``): completed trials
    that are not repeats of an earlier one, by Pareto rank, accuracy (desc), cost, trial; then
    completed trials without that cost; then the others by trial number. ``rank`` and
    ``pareto`` are recomputed, so a filtered or re-costed table and its plot tell the same
    story."""
    entries = [Entry(int(n), s == "COMPLETE" and pd.isna(d), _number(a), _number(c))
               for n, s, d, a, c in zip(frame["trial"], frame["state"], frame["duplicate_of"],
                                        frame["val_accuracy"], frame[cost], strict=True)]
    placed = leaderboard_order(entries)
    out = frame.iloc[[p.index for p in placed]].copy()
    out["rank"] = pd.array([p.rank for p in placed], dtype="Int64")
    out["pareto"] = [p.pareto for p in placed]
    return out


def _number(value: Any) -> float | None:
    # Frames hold NaN or pd.NA where records hold None; the order treats all three as missing.
    return None if pd.isna(value) else float(value)


def pareto_points(frame: pd.DataFrame, cost: str, *, ranked: bool = False) -> pd.DataFrame:
    """The ranked rows of :func:`rerank` (completed, with accuracy and ``cost``), with
    ``on_front`` marking the Pareto front among exactly these rows. ``ranked``: ``frame``
    already comes from ``rerank(..., cost)``."""
    table = frame if ranked else rerank(frame, cost)
    done = table[table["rank"].notna()].copy()
    done["on_front"] = done["pareto"].astype(bool)
    return done


def history_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed trials with the best validation accuracy so far, by trial number and by time."""
    done = frame[(frame["state"] == "COMPLETE") & frame["val_accuracy"].notna()]
    out = done[["trial", "completed", "val_accuracy"]].sort_values("trial")
    out["best_by_trial"] = out["val_accuracy"].cummax()
    by_time = out.sort_values(["completed", "trial"])
    out["best_by_time"] = by_time["val_accuracy"].cummax().reindex(out.index)
    return out.reset_index(drop=True)


def state_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Trials per state, in the usual order, states with no trial left out."""
    counts = frame["state"].value_counts()
    return {s: int(counts[s]) for s in STATES if s in counts}


def params_frame(records: Sequence[TrialRecord]) -> pd.DataFrame:
    """Searched parameters of the completed trials, one column each, plus trial and accuracy.

    Conditional parameters (say the width of a third layer) are missing where a trial did not
    sample them; those cells are NaN.
    """
    rows = [
        {"trial": r.number, "val_accuracy": r.val_accuracy, **r.params_searched}
        for r in records if r.state == "COMPLETE" and r.val_accuracy is not None
    ]
    return pd.DataFrame(rows, columns=_ordered_columns(rows))


def _ordered_columns(rows: list[dict[str, Any]]) -> list[str]:
    cols = {"trial": None, "val_accuracy": None}
    for row in rows:
        cols.update(dict.fromkeys(row))
    return list(cols)


def curves_frame(records: Iterable[TrialRecord]) -> pd.DataFrame:
    """Per-epoch points of the given trials, long format (one row per trial and epoch)."""
    rows = [
        {"trial": r.number, "epoch": e.epoch, "train_loss": e.train_loss,
         "val_accuracy": e.val_accuracy, "seconds": e.seconds}
        for r in records for e in r.epochs
    ]
    return pd.DataFrame(rows, columns=["trial", "epoch", "train_loss", "val_accuracy",
                                       "seconds"])


def log_scaled(values: pd.Series) -> bool:
    """Whether a numeric parameter spans enough decades to read better on a log axis."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty or (v <= 0).any():
        return False
    return math.log10(float(v.max()) / float(v.min())) >= 2


def per_class_frame(per_class: dict[str, Any], most: int = 1000) -> pd.DataFrame:
    """One row per class (the first ``most``): its name and the test accuracy on its samples
    (None: no sample, or a stored value that is not a number)."""
    items = list(per_class.items())[:most]
    return pd.DataFrame({"class": [str(k)[:80] for k, _ in items],
                         "test accuracy": [v if isinstance(v, float) and v == v else None
                                           for _, v in items]}, dtype=object)
