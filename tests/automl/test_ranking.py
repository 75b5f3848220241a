from __future__ import annotations

import itertools
import random

from automl.policy.ranking import dominates, knee, pareto_ranks, rank


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


def test_rank_orders_by_front_then_accuracy_and_never_uses_test() -> None:
    items = [
        {"val_accuracy": 0.99, "flops": 1000, "test_accuracy": 0.1, "id": "big"},
        {"val_accuracy": 0.95, "flops": 10, "test_accuracy": 1.0, "id": "small"},
        {"val_accuracy": 0.90, "flops": 100, "test_accuracy": 1.0, "id": "dominated"},
        {"val_accuracy": None, "flops": 5, "id": "pruned"},
    ]
    out = rank(items, "val_accuracy", "flops")
    assert [r.item["id"] for r in out] == ["big", "small", "dominated", "pruned"]
    assert [r.pareto for r in out] == [True, True, False, False]
    assert [r.rank for r in out] == [0, 0, 1, None]


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
