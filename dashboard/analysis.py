"""Study-wide views as DataFrames: EDF, hypervolume over time, rungs reached, timeline, and the
thinning that keeps a 10,000-trial plot readable. Pure: no Streamlit, no database."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from automl.policy.front import hypervolume_steps

READABLE_POINTS = 2000  # beyond this a scatter is a cloud: draw density, or a sample
READABLE_LINES = 300  # parallel coordinates and learning curves: lines one can follow
SAMPLE_SEED = 0  # the same sample on every rerun, so the picture does not flicker


def thin(frame: pd.DataFrame, keep: pd.Series | None = None, n: int = READABLE_LINES
         ) -> pd.DataFrame:
    """At most ``n`` rows plus every row where ``keep`` is true (say the Pareto front): a
    seeded random sample of the rest, in the original order. Small frames come back whole."""
    if len(frame) <= n:
        return frame
    kept = frame[keep] if keep is not None else frame.iloc[:0]
    rest = frame.drop(kept.index)
    sample = rest.sample(n=max(0, min(len(rest), n - len(kept))), random_state=SAMPLE_SEED)
    return frame.loc[frame.index.isin(kept.index.union(sample.index))]


def edf_frame(frame: pd.DataFrame, by: str | None = None, points: int = 500) -> pd.DataFrame:
    """Empirical distribution of the completed trials' validation accuracy: for each
    accuracy ``x``, the fraction of trials at or below it, per group ``by`` (say the loss
    family) or for all (``group`` "all trials"). At most ``points`` steps per group."""
    done = frame[(frame["state"] == "COMPLETE") & frame["val_accuracy"].notna()]
    groups = done.groupby(done[by].fillna("-")) if by else [("all trials", done)]
    parts = []
    for name, part in groups:
        acc = np.sort(part["val_accuracy"].to_numpy(dtype=float))
        frac = np.arange(1, len(acc) + 1) / len(acc)
        if len(acc) > points:  # quantiles: the curve's shape without 10,000 vertices
            idx = np.unique(np.linspace(0, len(acc) - 1, points).round().astype(int))
            acc, frac = acc[idx], frac[idx]
        parts.append(pd.DataFrame({"group": str(name), "val_accuracy": acc,
                                   "fraction": frac, "n": len(part)}))
    if not parts:
        return pd.DataFrame(columns=["group", "val_accuracy", "fraction", "n"])
    return pd.concat(parts, ignore_index=True)


def hv_reference(costs: pd.Series) -> float:
    """The reference cost, in log10 units: one decade above the costliest trial (so every
    trial adds area, and the figure does not move when a slightly costlier one arrives)."""
    worst = float(pd.to_numeric(costs, errors="coerce").max())
    return math.log10(max(worst, 1e-12)) + 1.0


def hypervolume_history(frame: pd.DataFrame, cost: str, by: str = "completed"
                        ) -> pd.DataFrame:
    """Hypervolume of the front of (validation accuracy, log10 ``cost``) after each completed
    trial, in order of completion (``by="completed"``) or of trial number (``"trial"``).
    Reference point: accuracy 0 and :func:`hv_reference`; the arithmetic is
    :func:`automl.policy.front.hypervolume_steps`, the benchmarks' own.
    Log10 cost, because costs span decades and a front's cheap end matters as much as its
    expensive end; the result is in accuracy × decades."""
    done = frame[(frame["state"] == "COMPLETE") & frame["val_accuracy"].notna()
                 & frame[cost].notna() & (frame[cost] > 0)]
    done = done.sort_values(["completed", "trial"] if by == "completed" else ["trial"],
                            na_position="last")
    if done.empty:
        return pd.DataFrame(columns=["trial", "completed", "hypervolume"])
    ref = (0.0, hv_reference(done[cost]))
    points = [(a, math.log10(c)) for a, c in zip(done["val_accuracy"].astype(float),
                                                 done[cost].astype(float), strict=True)]
    out = hypervolume_steps(points, ref)
    return pd.DataFrame({"trial": done["trial"].to_numpy(), "completed": done["completed"],
                         "hypervolume": out}).reset_index(drop=True)


RUNG = re.compile(r"rung (\d+) \(epoch (\d+)\)")
EPOCH = re.compile(r"epoch (\d+)")


def rung_frame(frame: pd.DataFrame, rungs: Sequence[int] = ()) -> pd.DataFrame:
    """Where each candidate stopped: ``rung`` (its number, as the pruner names it, or the
    position of its epoch in ``rungs``), ``epoch``, and ``stage`` as text ("rung 0 (epoch
    1)", "full budget", "failed"...). Pruned trials are read from their reason; completed
    ones reached the full budget."""
    rows = []
    for number, state, reason in zip(frame["trial"], frame["state"], frame["reason"],
                                     strict=True):
        text = str(reason or "")
        rung: int | None = None
        epoch: int | None = None
        if state == "PRUNED":
            m = RUNG.search(text)
            if m:
                rung, epoch = int(m.group(1)), int(m.group(2))
            elif (e := EPOCH.search(text)) is not None:
                epoch = int(e.group(1))
                rung = rungs.index(epoch) if epoch in rungs else None
            stage = (f"rung {rung} (epoch {epoch})" if rung is not None
                     else f"pruned at epoch {epoch}" if epoch is not None else "pruned")
        elif state == "COMPLETE":
            stage = "repeat" if text.startswith("duplicate of trial") else "full budget"
        else:
            stage = state.lower()
        rows.append({"trial": int(number), "state": state, "rung": rung, "epoch": epoch,
                     "stage": stage})
    out = pd.DataFrame(rows, columns=["trial", "state", "rung", "epoch", "stage"])
    out["rung"] = out["rung"].astype("Int64")
    out["epoch"] = out["epoch"].astype("Int64")
    return out


def rung_counts(rungs: pd.DataFrame) -> pd.DataFrame:
    """Candidates per stage, earliest stop first (pruned by rung, then the full budget)."""
    counts = rungs.groupby("stage", sort=False).agg(candidates=("trial", "size"),
                                                    epoch=("epoch", "min")).reset_index()
    order = counts["stage"].map(lambda s: (0 if s.startswith(("rung", "pruned"))
                                           else 1 if s in ("full budget", "repeat") else 2, s))
    counts["order"] = [(o[0], e if pd.notna(e) else math.inf, o[1])
                       for o, e in zip(order, counts["epoch"], strict=True)]
    return counts.sort_values("order").drop(columns="order").reset_index(drop=True)


def timeline_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Trials with a start time: start, end (completion, else the latest time seen, for a
    running trial) and state, by start."""
    started = frame[frame["started"].notna()].copy()
    latest = pd.concat([frame["started"], frame["completed"]]).max()
    started["end"] = started["completed"].fillna(latest)
    return started[["trial", "state", "started", "end"]].sort_values(["started", "trial"])


def density(x: pd.Series, y: pd.Series, *, log_x: bool = False, nx: int = 60, ny: int = 40
            ) -> tuple[list[object], list[float], list[list[float | None]]]:
    """Counts of points in an ``nx`` × ``ny`` grid: (x edges, y edges, counts by row of y),
    empty cells None (drawn as nothing, not as a colour). Bins are computed here, so a
    10,000-point cloud ships as a small grid. ``log_x`` bins x evenly in log10 (for a log
    axis); datetimes bin as datetimes."""
    times = pd.api.types.is_datetime64_any_dtype(x)
    xs = x.astype("int64").to_numpy(dtype=float) if times else x.to_numpy(dtype=float)
    if log_x:
        xs = np.log10(xs)
    ys = y.to_numpy(dtype=float)
    counts, xe, ye = np.histogram2d(xs, ys, bins=(nx, ny))
    grid = [[None if c == 0 else float(c) for c in row] for row in counts.T.tolist()]
    edges: list[object]
    if times:
        edges = list(pd.to_datetime(xe.astype("int64")))
    else:
        edges = list(10 ** xe) if log_x else list(xe)
    return edges, list(ye), grid
