"""The Pareto front of ``(accuracy, cost)`` points and the 2-D hypervolume it dominates. Pure.

Accuracy is maximized and cost minimized, as in :mod:`automl.policy.ranking`. The hypervolume
is the area dominated by the points and bounded by a reference point ``ref`` = (worst accuracy,
worst cost). The axes and the reference are the caller's, since they make the figure: the
dashboard gives log10 cost with the reference one decade above the costliest trial
(``dashboard.analysis``); the search-efficiency benchmark gives log10 FLOPs scaled to [0, 1]
over a whole data set, with the reference (0, 1) (``benchmarks.hypervolume``). The arithmetic
is here, once.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

from automl.policy.ranking import Point, pareto_ranks


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indices, ascending, of the points no other point dominates (Pareto rank 0 of
    :func:`automl.policy.ranking.pareto_ranks`). Equal points do not dominate each other, so
    both stay."""
    return [i for i, r in enumerate(pareto_ranks(points)) if r == 0]


def hypervolume_2d(points: Iterable[Point], ref: Point) -> float:
    """Area dominated by ``points`` and bounded by ``ref`` = (worst accuracy, worst cost).

    Sweeping by cost, each point that raises the best accuracy seen so far adds the strip
    between the old and the new best accuracy, from its cost to the reference cost; a
    dominated point raises nothing and so adds nothing, nor does a point not better than
    ``ref`` on both axes.
    """
    ref_a, ref_c = ref
    inside = sorted((c, -a) for a, c in points if a > ref_a and c < ref_c)
    area, best = 0.0, ref_a
    for c, neg_a in inside:
        if -neg_a > best:
            area += (ref_c - c) * (-neg_a - best)
            best = -neg_a
    return area


def hypervolume_steps(points: Iterable[Point], ref: Point) -> list[float]:
    """``hypervolume_2d(points[:k + 1], ref)`` for every ``k``, in one pass: the hypervolume
    after each point arrives (a search's progress, trial by trial). Only the current front is
    kept, so a 10,000-trial study costs 10,000 small updates, not 10,000 sweeps."""
    front: list[tuple[float, float]] = []  # (cost, accuracy): cost up, accuracy up
    out: list[float] = []
    area = 0.0
    for acc, cost in points:
        if acc > ref[0] and cost < ref[1]:  # outside the reference box: adds nothing
            i = bisect.bisect_right(front, (cost, math.inf))
            if not (i > 0 and front[i - 1][1] >= acc):  # no cheaper-or-equal point as good
                while i > 0 and front[i - 1][0] == cost:  # same cost, less accurate: gone
                    i -= 1
                j = i
                while j < len(front) and front[j][1] <= acc:  # costlier, no better: gone
                    j += 1
                front[i:j] = [(cost, acc)]
                area = hypervolume_2d([(a, c) for c, a in front], ref)
        out.append(area)
    return out
