"""Pareto-aware successive halving (MO-ASHA) for multi-objective studies. Pure functions.

Optuna prunes single-objective studies only, so a Pareto search without this trains every
candidate for its whole budget. Here candidates are compared at *rungs*, epochs growing
geometrically (``min_epochs * eta**k``). A candidate that reaches a rung continues only if it is
among the best ``1/eta`` of all candidates that reached that rung so far, ranked by
non-dominated sorting on (validation accuracy up to that epoch, cost), ties within a front
broken by crowding distance (NSGA-II's: the boundary members first, then the most isolated),
then accuracy. Cost (FLOPs, parameters, latency) is known before training, so the ranking is
exact. As in asynchronous successive halving, a rung reached by fewer than ``eta`` candidates
promotes every candidate on its front: nothing is stopped for lack of competitors.

Families (``group``: mlp, cnn1d, cnn2d) learn at different speeds: a convolutional net often
trails an MLP after a few epochs and ends far ahead, so a comparison across families at low
fidelity is biased against the slow starters, while within a family early and final rankings
agree far better. So a candidate also continues when it is the most accurate of its family at
the rung so far: every family gets its best candidates trained to the end, and the sampler
learns what each family is worth at full fidelity. This keeps about ``ln(n)`` extra candidates
per family (each one must beat every earlier one of its family at that rung).

The reference is syne-tune's MO-ASHA (Schmucker et al., 2021).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from automl.policy.ranking import pareto_ranks

ETA = 3  # keep the best third at every rung


@dataclass(frozen=True)
class RungEntry:
    """One candidate at a rung: its best validation accuracy up to the rung's epoch and cost."""

    number: int
    accuracy: float
    cost: float
    group: str | None = None  # the architecture family; None: no family rule


@dataclass(frozen=True)
class Decision:
    promote: bool
    rank: int  # 1-based position in the rung's order
    kept: int  # how many of the rung's candidates continue
    entries: int  # how many reached the rung
    family_best: bool = False  # continues as the most accurate of its family so far

    def reason(self, rung: int, epoch: int, eta: int) -> str:
        where = f"pruned by mo-asha at rung {rung} (epoch {epoch}): "
        if self.entries < eta:
            return where + f"dominated by another of the {self.entries} candidates there"
        return (where + f"position {self.rank} of {self.entries} by Pareto rank and crowding; "
                f"the best 1/{eta} ({self.kept}) continue")


def rung_epochs(max_epochs: int, eta: int = 3, min_epochs: int = 1) -> list[int]:
    """Epochs at which candidates are compared: ``min_epochs * eta**k`` below ``max_epochs``."""
    if eta < 2 or min_epochs < 1:
        raise ValueError(f"rung_epochs: need eta >= 2 and min_epochs >= 1, got {eta}, "
                         f"{min_epochs}")
    out, epoch = [], min_epochs
    while epoch < max_epochs:
        out.append(epoch)
        epoch *= eta
    return out


def crowding_distances(points: Sequence[tuple[float, float]]) -> list[float]:
    """NSGA-II crowding distance of each point within one front (accuracy, log10 cost).

    Per objective the points are sorted; the two ends get infinity, every other point the
    normalized gap between its neighbours; the sum over objectives is its distance.
    """
    n = len(points)
    dist = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for axis in (0, 1):
        order = sorted(range(n), key=lambda i: points[i][axis])
        lo, hi = points[order[0]][axis], points[order[-1]][axis]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi == lo:
            continue
        for k in range(1, n - 1):
            gap = points[order[k + 1]][axis] - points[order[k - 1]][axis]
            dist[order[k]] += gap / (hi - lo)
    return dist


def order_entries(entries: Sequence[RungEntry]) -> list[RungEntry]:
    """The rung's order: Pareto rank, then crowding distance (desc), accuracy (desc), cost."""
    points = [(e.accuracy, e.cost) for e in entries]
    ranks = pareto_ranks(points)
    crowd = [0.0] * len(entries)
    for r in set(ranks):
        members = [i for i, x in enumerate(ranks) if x == r]
        logged = [(entries[i].accuracy, math.log10(max(entries[i].cost, 1e-12)))
                  for i in members]
        for i, d in zip(members, crowding_distances(logged), strict=True):
            crowd[i] = d
    order = sorted(range(len(entries)), key=lambda i: (
        ranks[i], -crowd[i], -entries[i].accuracy, entries[i].cost, entries[i].number))
    return [entries[i] for i in order]


def decide(candidate: int, entries: Sequence[RungEntry], eta: int = 3) -> Decision:
    """Whether trial ``candidate`` (one of ``entries``) continues past this rung."""
    numbers = [e.number for e in entries]
    if candidate not in numbers:
        raise ValueError(f"decide: trial {candidate} is not among the rung's entries")
    ordered = order_entries(entries)
    position = next(i for i, e in enumerate(ordered) if e.number == candidate)
    n = len(entries)
    me = entries[numbers.index(candidate)]
    family_best = me.group is not None and all(
        (e.accuracy, -e.number) < (me.accuracy, -me.number)
        for e in entries if e.group == me.group and e.number != candidate)
    if n < eta:
        ranks = pareto_ranks([(e.accuracy, e.cost) for e in entries])
        on_front = ranks[numbers.index(candidate)] == 0
        kept = sum(1 for r in ranks if r == 0)
        return Decision(on_front or family_best, position + 1, kept, n, family_best)
    kept = max(1, n // eta)
    return Decision(position < kept or family_best, position + 1, kept, n, family_best)
