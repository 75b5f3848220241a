"""Accuracy against cost: Pareto ranks and the leaderboard order. Pure functions.

A point is ``(accuracy, cost)``; higher accuracy and lower cost are better. Rank 0 is the Pareto
front (no other point is at least as good on both and better on one); rank 1 is the front once
rank 0 is removed, and so on. The leaderboard sorts by rank, then :func:`order_key` (accuracy
desc, cost, trial number): :func:`leaderboard_order` is that rule, for every caller (the CLI,
the API, the dashboard). Selection never looks at test accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from automl.config import DEFAULT_COST

if TYPE_CHECKING:
    from automl.storage.records import TrialRecord

Point = tuple[float, float]

# Epochs whose validation accuracy is averaged into a trial's ``val_recent``.
RECENT_EPOCHS = 3


def recent_accuracy(history: Sequence[Any]) -> float | None:
    """Mean validation accuracy of the last :data:`RECENT_EPOCHS` epochs of ``history``
    (records with a ``val_accuracy``); None for an empty history. Where many candidates tie on
    their best epoch (a validation split that saturates at 1.0), this says which of them held
    that accuracy rather than touched it once: a steadier estimate of the same quantity."""
    accs = [float(r.val_accuracy) for r in history if r.val_accuracy is not None]
    tail = accs[-RECENT_EPOCHS:]
    return sum(tail) / len(tail) if tail else None


def dominates(a: Point, b: Point) -> bool:
    """True if ``a`` is at least as good as ``b`` on both axes and strictly better on one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def pareto_ranks(points: Sequence[Point]) -> list[int]:
    """Non-dominated sorting rank of every point (0 = Pareto front).

    Two objectives make this O(n log n) per front: sort by accuracy desc, cost asc, and sweep,
    keeping the lowest cost seen; a point is on the current front iff its cost is below it.
    A NaN is refused (ValueError): it compares false with everything, so it would join no
    front and the sweep would never end. Callers leave unmeasured figures out (:func:`measured`).
    """
    if any(a != a or c != c for a, c in points):
        raise ValueError("pareto_ranks: a point has a NaN accuracy or cost")
    ranks = [-1] * len(points)
    remaining = sorted(range(len(points)), key=lambda i: (-points[i][0], points[i][1]))
    rank = 0
    while remaining:
        front, rest = [], []
        best_cost = float("inf")
        best_acc = None
        for i in remaining:
            acc, cost = points[i]
            if cost < best_cost or (cost == best_cost and acc == best_acc):
                front.append(i)
                if cost < best_cost:
                    best_cost, best_acc = cost, acc
            else:
                rest.append(i)
        for i in front:
            ranks[i] = rank
        remaining, rank = rest, rank + 1
    return ranks


def measured(value: float | None) -> float | None:
    """``value`` as a float; None where it was not measured (None, or NaN)."""
    return None if value is None or value != value else float(value)


def order_key(accuracy: float | None, cost: float | None, number: int
              ) -> tuple[float, float, int]:
    """The order among trials of one Pareto rank (and the last tie rule of ``best``, see
    :mod:`automl.policy.select`): higher accuracy, then lower cost, then lower trial number.
    A missing accuracy (None or NaN) sorts after every measured one, a missing cost likewise,
    so an unpriced trial never wins a tie."""
    acc, price = measured(accuracy), measured(cost)
    return (math.inf if acc is None else -acc, math.inf if price is None else price, number)


class Entry(NamedTuple):
    """One trial as the leaderboard order sees it; ``rankable``: complete, and not a repeat
    answered from an earlier trial's result."""

    number: int
    rankable: bool
    accuracy: float | None
    cost: float | None


@dataclass(frozen=True)
class Placed:
    index: int  # position of the entry in the sequence given
    rank: int | None  # None: not ranked (not rankable, or no accuracy or cost)
    pareto: bool


def leaderboard_order(entries: Sequence[Entry]) -> list[Placed]:
    """The leaderboard's order, the one rule behind ``automl leaderboard``, the API and every
    dashboard table. First the rankable entries with an accuracy and a cost (neither None nor
    NaN), by Pareto rank, then :func:`order_key`; then the rankable ones lacking either, by
    trial number; then the rest by trial number. The order never depends on the order of
    ``entries``. To rank by accuracy alone, give every entry the same cost."""
    points: dict[int, Point] = {}  # the entries that take part in the Pareto ranking
    for i, e in enumerate(entries):
        acc, price = measured(e.accuracy), measured(e.cost)
        if e.rankable and acc is not None and price is not None:
            points[i] = (acc, price)
    rank_of = dict(zip(points, pareto_ranks(list(points.values())), strict=True))
    top = sorted(points, key=lambda i: (rank_of[i], *order_key(*points[i], entries[i].number)))
    unscored = sorted((i for i, e in enumerate(entries) if e.rankable and i not in rank_of),
                      key=lambda i: entries[i].number)
    others = sorted((i for i, e in enumerate(entries) if not e.rankable),
                    key=lambda i: entries[i].number)
    return ([Placed(i, rank_of[i], rank_of[i] == 0) for i in top]
            + [Placed(i, None, False) for i in unscored + others])


def knee(points: Sequence[Point]) -> int | None:
    """Index of the Pareto member with the best trade-off, or None for no points.

    Accuracy and log10(cost) are scaled to [0, 1] over the front; the knee is the member that
    lies farthest above the straight line joining the front's two ends (the cheapest and the
    most accurate). A front of one or two points returns its most accurate member.
    """
    if not points:
        return None
    ranks = pareto_ranks(points)
    front = sorted((i for i, r in enumerate(ranks) if r == 0), key=lambda i: points[i][1])
    if len(front) <= 2:
        return max(front, key=lambda i: points[i][0])
    accs = [points[i][0] for i in front]
    logc = [math.log10(max(points[i][1], 1e-12)) for i in front]
    a0, a1 = min(accs), max(accs)
    c0, c1 = min(logc), max(logc)
    sa = (a1 - a0) or 1.0
    sc = (c1 - c0) or 1.0
    xs = [(c - c0) / sc for c in logc]  # cost, 0 = cheapest
    ys = [(a - a0) / sa for a in accs]  # accuracy, 1 = best
    # Line from the cheapest (x0, y0) to the most accurate (x1, y1); distance above it.
    x0, y0, x1, y1 = xs[0], ys[0], xs[-1], ys[-1]
    dx, dy = x1 - x0, y1 - y0
    norm = math.hypot(dx, dy) or 1.0
    dist = [((x - x0) * dy - (y - y0) * dx) / norm * -1 for x, y in zip(xs, ys, strict=True)]
    best = max(range(len(front)), key=lambda k: (dist[k], ys[k]))
    return front[best]


# The leaderboard's columns, in order (also the keys of `automl leaderboard --json`).
COLUMNS = (
    "rank", "trial", "state", "val_accuracy", "val_loss", "cv_accuracy", "validation",
    "test_accuracy", "params", "flops",
    "latency_ms", "peak_memory_mb", "comm_bytes_per_step", "train_seconds", "pareto", "arch_space",
    "loss_formula", "arch", "loss", "hparams", "reason",
)


def leaderboard_rows(records: Sequence[TrialRecord], cost: str | None = DEFAULT_COST,
                     pareto_only: bool = False, top: int | None = None) -> list[dict[str, Any]]:
    """The study's leaderboard in :func:`leaderboard_order`: completed trials (not repeats) by
    Pareto rank on (val_accuracy, ``cost``), then accuracy, cost and trial number; then the
    others (repeats answered from an earlier trial's result, pruned, failed, running) by trial
    number. ``cost=None`` ranks by accuracy alone. Test accuracy never affects the order."""
    entries = [Entry(r.number, r.state == "COMPLETE" and r.duplicate_of is None,
                     r.val_accuracy, r.cost(cost) if cost else 0.0) for r in records]
    rows = [_row(records[p.index], p.rank, p.pareto) for p in leaderboard_order(entries)]
    if pareto_only:
        rows = [r for r in rows if r["pareto"]]
    return rows[:top] if top else rows


def _row(r: TrialRecord, rank_: int | None, pareto: bool) -> dict[str, Any]:
    """One row in ``COLUMNS`` order; every column but these three is the record's attribute."""
    own = {"rank": rank_, "trial": r.number, "pareto": pareto}
    return {col: own[col] if col in own else getattr(r, col) for col in COLUMNS}
