"""MO-ASHA's promotion rule on hand-built rungs (pure: no database, no training)."""

from __future__ import annotations

import math

import pytest

from automl.policy.pruning import RungEntry, crowding_distances, decide, order_entries, rung_epochs


def E(number: int, acc: float, cost: float) -> RungEntry:  # noqa: N802
    return RungEntry(number, acc, cost)


def test_rungs_grow_geometrically_below_the_last_epoch() -> None:
    assert rung_epochs(20, eta=3, min_epochs=1) == [1, 3, 9]
    assert rung_epochs(27, eta=3, min_epochs=1) == [1, 3, 9]  # the last epoch is no rung
    assert rung_epochs(100, eta=2, min_epochs=5) == [5, 10, 20, 40, 80]
    assert rung_epochs(3, eta=3, min_epochs=4) == []
    with pytest.raises(ValueError, match="eta"):
        rung_epochs(10, eta=1)


def test_dominated_candidates_stop_and_the_best_third_continues() -> None:
    # Nine candidates: three on the front (cheap+ok, mid, expensive+best), six dominated.
    entries = [
        E(0, 0.90, 1e4), E(1, 0.95, 1e5), E(2, 0.99, 1e6),
        E(3, 0.80, 1e5), E(4, 0.85, 1e6), E(5, 0.70, 1e6),
        E(6, 0.89, 2e4), E(7, 0.60, 1e7), E(8, 0.94, 2e5),
    ]
    kept = [e.number for e in entries if decide(e.number, entries, eta=3).promote]
    assert sorted(kept) == [0, 1, 2]  # 9 // 3 = 3 continue: exactly the front
    verdict = decide(7, entries, eta=3)
    assert not verdict.promote and verdict.kept == 3 and verdict.entries == 9
    assert "rung 2 (epoch 3)" in verdict.reason(2, 3, 3)


def test_accuracy_alone_does_not_decide_a_cheap_candidate_survives() -> None:
    # The cheapest candidate is less accurate than four others but dominated by none of them.
    entries = [E(0, 0.50, 1e3)] + [E(i, 0.90 + i / 100, 1e6 + i) for i in range(1, 6)]
    assert decide(0, entries, eta=3).promote
    # Among the expensive ones only the most accurate is on the front.
    assert decide(5, entries, eta=3).promote
    assert not decide(3, entries, eta=3).promote


def test_ties_within_the_front_go_to_the_boundary_then_the_most_isolated() -> None:
    # One front of six: the ends have infinite crowding distance; of the inner four,
    # #3 sits in the largest gap.
    front = [E(0, 0.50, 1e1), E(1, 0.60, 1e2), E(2, 0.61, 1.1e2), E(3, 0.80, 1e4),
             E(4, 0.81, 1.1e4), E(5, 0.99, 1e6)]
    order = [e.number for e in order_entries(front)]
    assert set(order[:2]) == {0, 5}
    assert order[2] == 3
    assert [decide(e.number, front, eta=3).promote for e in front] == [
        True, False, False, False, False, True]


def test_fewer_candidates_than_eta_promote_the_front_only() -> None:
    lone = [E(4, 0.1, 1e9)]
    assert decide(4, lone, eta=3).promote  # nothing to compare with: it continues
    pair = [E(0, 0.9, 1e3), E(1, 0.8, 1e4)]  # 1 is dominated by 0
    assert decide(0, pair).promote and not decide(1, pair).promote
    both = [E(0, 0.9, 1e5), E(1, 0.8, 1e4)]  # a trade-off: both on the front
    assert decide(0, both).promote and decide(1, both).promote
    assert "dominated" in decide(1, pair).reason(1, 2, 3)


def test_equal_points_are_ordered_deterministically() -> None:
    same = [E(i, 0.9, 1e4) for i in (5, 2, 8, 1)]
    assert [e.number for e in order_entries(same)][:1] == [1]
    assert sum(decide(e.number, same, eta=3).promote for e in same) == 1


def test_crowding_distance_matches_nsga2() -> None:
    pts = [(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)]
    d = crowding_distances(pts)
    assert math.isinf(d[0]) and math.isinf(d[2])
    assert d[1] == pytest.approx(1.0 + 1.0)  # (1-0)/1 on both axes
    assert crowding_distances(pts[:2]) == [math.inf, math.inf]


def test_unknown_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="trial 9"):
        decide(9, [E(0, 0.5, 1.0)])


def test_the_most_accurate_of_each_family_so_far_continues() -> None:
    # Six cheap MLPs lead at this rung; the one CNN trails them all and costs more.
    entries = [RungEntry(i, 0.95 + i / 1000, 1e4 + i, "mlp") for i in range(6)]
    entries.append(RungEntry(6, 0.90, 1e6, "cnn2d"))
    verdict = decide(6, entries, eta=3)
    assert verdict.promote and verdict.family_best  # the first (so best) CNN so far continues
    # A later CNN must beat the earlier one at the rung to continue on the family rule.
    worse = entries + [RungEntry(7, 0.89, 2e6, "cnn2d")]
    assert not decide(7, worse, eta=3).promote
    better = entries + [RungEntry(7, 0.92, 2e6, "cnn2d")]
    assert decide(7, better, eta=3).family_best
    # Equal accuracy: the earlier candidate keeps the family's place.
    tie = entries + [RungEntry(7, 0.90, 2e6, "cnn2d")]
    assert not decide(7, tie, eta=3).promote
    # Without families (group None) only the Pareto rule applies.
    plain = [RungEntry(e.number, e.accuracy, e.cost) for e in entries]
    assert not decide(6, plain, eta=3).promote
