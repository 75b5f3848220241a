"""Accuracy against cost: Pareto ranks and the leaderboard order. Pure functions.

A point is ``(accuracy, cost)``; higher accuracy and lower cost are better. Rank 0 is the Pareto
front (no other point is at least as good on both and better on one); rank 1 is the front once
rank 0 is removed, and so on. The leaderboard sorts by rank, then accuracy (desc), then cost.
Selection never looks at test accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    """
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


@dataclass(frozen=True)
class Ranked:
    item: Any
    rank: int | None  # None: not ranked (not complete, or no cost)
    pareto: bool


def rank(items: Sequence[Any], accuracy: str = "val_accuracy", cost: str | None = "flops",
         ) -> list[Ranked]:
    """Order items (objects with ``accuracy`` and ``cost`` attributes, or dicts).

    Items with both numbers are ranked (Pareto rank, then accuracy desc, then cost asc); the rest
    follow in their original order. With ``cost=None`` the order is by accuracy alone and the
    single best item is the "front".
    """

    def get(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)

    scored: list[tuple[Any, Any, Any]] = []
    unscored: list[tuple[Any, Any, Any]] = []
    for it in items:
        acc = get(it, accuracy)
        c = get(it, cost) if cost else 0.0
        (scored if acc is not None and c is not None else unscored).append((it, acc, c))
    ranks = pareto_ranks([(float(a), float(c)) for _, a, c in scored])
    order = sorted(range(len(scored)), key=lambda i: (ranks[i], -scored[i][1], scored[i][2]))
    out = [Ranked(scored[i][0], ranks[i], ranks[i] == 0) for i in order]
    out += [Ranked(it, None, False) for it, _, _ in unscored]
    return out


def knee(points: Sequence[Point]) -> int | None:
    """Index of the Pareto member with the best trade-off, or None for no points.

    Accuracy and log10(cost) are scaled to [0, 1] over the front; the knee is the member that
    lies farthest above the straight line joining the front's two ends (the cheapest and the
    most accurate). A front of one or two points returns its most accurate member.
    """
    import math

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


def leaderboard_rows(records: Sequence[TrialRecord], cost: str | None = "flops",
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
