from __future__ import annotations

import itertools
import random

import pytest

from automl.policy.front import hypervolume_2d, hypervolume_steps, pareto_front
from automl.policy.ranking import (
    Entry,
    dominates,
    knee,
    leaderboard_order,
    leaderboard_rows,
    order_key,
    pareto_ranks,
)
from automl.storage.records import TrialRecord

NAN = float("nan")


def brute_force_ranks(points):
    ranks, remaining, r = [None] * len(points), set(range(len(points))), 0
    while remaining:
        front = {i for i in remaining
                 if not any(dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = r
        remaining -= front
        r += 1
    return ranks


def test_pareto_ranks_match_brute_force_on_random_points() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 25)
        pts = [(rng.choice([0.5, 0.8, 0.9, 0.95, 0.99]), rng.choice([1, 10, 100, 1000]))
               for _ in range(n)]
        assert pareto_ranks(pts) == brute_force_ranks(pts)


def test_pareto_ranks_refuse_nan_rather_than_loop() -> None:
    for bad in ([(0.9, NAN), (0.8, 1.0)], [(NAN, 1.0)]):
        with pytest.raises(ValueError, match="NaN"):
            pareto_ranks(bad)


def test_leaderboard_order_by_front_then_accuracy_cost_number() -> None:
    entries = [
        Entry(7, True, 0.95, 10.0),  # front: the cheapest
        Entry(3, True, 0.99, 1000.0),  # front: the most accurate
        Entry(5, True, 0.90, 100.0),  # dominated by 7: rank 1 ...
        Entry(2, True, 0.90, 100.0),  # ... tied with 5 on both axes: the lower number first
        Entry(4, True, None, 5.0),  # no accuracy, NaN cost, NaN accuracy: after the ranked,
        Entry(1, True, 0.97, NAN),  # by number
        Entry(6, True, NAN, 1.0),
        Entry(0, False, 1.0, 1.0),  # not rankable (a repeat, pruned...): last, whatever it has
    ]
    for given in (entries, entries[::-1]):  # the order given never matters
        placed = leaderboard_order(given)
        assert [given[p.index].number for p in placed] == [3, 7, 2, 5, 1, 4, 6, 0]
        assert [p.rank for p in placed] == [0, 0, 1, 1, None, None, None, None]
        assert [p.pareto for p in placed] == [True, True] + [False] * 6


def test_order_key_puts_missing_figures_last() -> None:
    assert order_key(0.9, 5.0, 2) < order_key(0.9, None, 1) == order_key(0.9, NAN, 1)
    assert order_key(0.1, 1e9, 9) < order_key(NAN, 1.0, 0) == order_key(None, 1.0, 0)
    assert order_key(0.9, 5.0, 1) < order_key(0.9, 5.0, 2) < order_key(0.8, 1.0, 0)


def test_leaderboard_rows_never_use_test_accuracy() -> None:
    def rec(number: int, val: float | None, flops: float, test: float, state: str = "COMPLETE"
            ) -> TrialRecord:
        return TrialRecord(study="s", number=number, state=state, values=None,
                           val_accuracy=val, flops=flops, test_accuracy=test)

    records = [rec(3, None, 5, 1.0, "PRUNED"), rec(2, 0.90, 100, 1.0), rec(1, 0.95, 10, 1.0),
               rec(0, 0.99, 1000, 0.1)]
    rows = leaderboard_rows(records, "flops")
    assert [(r["trial"], r["rank"], r["pareto"]) for r in rows] == [
        (0, 0, True), (1, 0, True), (2, 1, False), (3, None, False)]
    by_accuracy = leaderboard_rows(records, None)  # no cost axis: accuracy alone
    assert [(r["trial"], r["rank"]) for r in by_accuracy] == [(0, 0), (1, 1), (2, 2), (3, None)]


def test_pareto_front_keeps_equal_points() -> None:
    pts = [(0.9, 10.0), (0.9, 5.0), (0.8, 1.0), (0.7, 2.0), (0.95, 100.0), (0.8, 1.0)]
    assert pareto_front(pts) == [1, 2, 4, 5]
    assert pareto_front([]) == []


def test_hypervolume_of_a_three_point_front_by_hand() -> None:
    # Front (0.5 @ 1), (0.8 @ 2), (0.9 @ 3), reference (0, 4); (0.6 @ 3) is dominated.
    # Columns of width 1 from cost 1 to 4 at heights 0.5, 0.8, 0.9: 2.2.
    pts = [(0.5, 1.0), (0.8, 2.0), (0.9, 3.0), (0.6, 3.0)]
    assert hypervolume_2d(pts, (0.0, 4.0)) == pytest.approx(2.2)
    assert hypervolume_2d(pts[::-1], (0.0, 4.0)) == pytest.approx(2.2)
    # Reference (0.6, 2.5): only 0.8 @ 2 is inside it (0.5 is not above 0.6, cost 3 is past
    # 2.5): 0.2 high, 0.5 wide.
    assert hypervolume_2d(pts, (0.6, 2.5)) == pytest.approx(0.2 * 0.5)
    assert hypervolume_2d([], (0.0, 1.0)) == 0.0


def test_hypervolume_steps_follow_the_front_as_points_arrive() -> None:
    arrivals = [(0.8, 2.0), (0.6, 3.0), (0.5, 1.0), (0.9, 3.0), (0.9, 3.5), (0.0, 0.5),
                (0.95, 5.0), (0.7, 1.0)]
    # By hand, reference (0, 4): 0.8*2; dominated; + 0.5 from cost 1 to 2; + 0.1 from 3 to 4;
    # dominated; accuracy not above the reference; cost beyond it; 0.7 replaces 0.5 at cost 1.
    expected = [1.6, 1.6, 2.1, 2.2, 2.2, 2.2, 2.2, 2.4]
    assert hypervolume_steps(arrivals, (0.0, 4.0)) == pytest.approx(expected)
    assert hypervolume_steps([], (0.0, 4.0)) == []


def test_knee_prefers_the_elbow() -> None:
    pts = [(0.90, 1e3), (0.985, 2e3), (0.99, 1e6), (0.80, 1e7)]
    assert knee(pts) == 1
    assert knee([]) is None
    assert knee([(0.5, 1.0)]) == 0


def test_dominates_is_strict() -> None:
    assert not dominates((0.9, 10), (0.9, 10))
    assert dominates((0.9, 9), (0.9, 10))
    for a, b in itertools.permutations([(0.9, 5), (0.8, 1)], 2):
        assert not dominates(a, b)


def test_one_default_cost_for_every_reader() -> None:
    from automl import api
    from automl.config import DEFAULT_COST, StudySection, cost_or_default

    assert DEFAULT_COST == "flops" and StudySection().cost == "flops"
    assert cost_or_default(None) == cost_or_default("") == "flops"
    assert cost_or_default("params") == "params"
    # A stored config without a cost, or with a null one, ranks by FLOPs (it read "None").
    assert api.stored_cost({}) == api.stored_cost({"study": {"cost": None}}) == "flops"
    assert api.stored_cost({"study": {"cost": "latency_ms"}}) == "latency_ms"
