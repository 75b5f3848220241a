"""Probe a space without a study: its smallest candidate, found before any trial runs.

A search whose space cannot take the data's shape, or whose every candidate breaks a cost
limit, would otherwise be found out only after every trial failed. :class:`ProbeTrial` answers
a space's questions from fixed picks (the smallest choice by default) and records what was
asked; :func:`smallest` walks those choices one at a time (coordinate descent) to the candidate
of least cost. Pure: the cost function is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

Spec = Any
# Integer parameters with at most this many values are tried value by value; wider ones at
# their ends and one step above the low end.
_MAX_INT_VALUES = 9


def _smallest_choice(choices: Sequence[Any]) -> Any:
    numbers = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
    return min(choices) if numbers else choices[0]


class ProbeTrial:
    """A trial (see :class:`~search_spaces.base.TrialLike`) that answers from ``picks``.

    A parameter not in ``picks`` gets its smallest value: the low end of a range, the least
    number of a numeric choice, the first of any other choice. ``domains`` records every
    parameter asked, with the values worth trying.
    """

    number = -1  # no real trial has it: a space keyed on trial numbers sees none it knows

    def __init__(self, picks: dict[str, Any] | None = None) -> None:
        self.picks = dict(picks or {})
        self.domains: dict[str, tuple[Any, ...]] = {}

    def _answer(self, name: str, domain: tuple[Any, ...], default: Any) -> Any:
        self.domains[name] = domain
        value = self.picks.get(name, default)
        return value if any(value is d or value == d for d in domain) else default

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        values = range(low, high + 1, step)
        domain = (tuple(values) if len(values) <= _MAX_INT_VALUES
                  else tuple(sorted({low, min(low + step, high), high})))
        return int(self._answer(name, domain, low))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return float(self._answer(name, (low, high), low))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        domain = tuple(choices)
        return self._answer(name, domain, _smallest_choice(domain))


def spec_key(spec: Spec) -> Hashable:
    """The spec itself when hashable (every built-in spec is a frozen dataclass), else its
    repr: a plug-in's mutable spec is still a candidate."""
    try:
        hash(spec)
    except TypeError:
        return repr(spec)
    return spec


def smallest(
    sample: Callable[[ProbeTrial], Spec],
    cost: Callable[[Spec], float],
    *,
    target: float | None = None,
    max_evaluations: int = 200,
) -> tuple[Spec, float]:
    """The candidate of ``sample`` with the least ``cost`` that coordinate descent finds.

    Starts from every parameter at its smallest value, then changes one parameter at a time
    while that lowers the cost. ``sample`` raising on the first probe propagates (the space
    cannot produce even its smallest candidate); a later pick that raises is skipped. The walk
    stops early once the cost is at most ``target``. Costs are cached by :func:`spec_key`.
    """
    cache: dict[Hashable, float] = {}

    def probe(picks: dict[str, Any]) -> tuple[Spec, float, dict[str, tuple[Any, ...]]]:
        trial = ProbeTrial(picks)
        spec = sample(trial)
        key = spec_key(spec)
        if key not in cache:
            cache[key] = float(cost(spec))
        return spec, cache[key], trial.domains

    best_spec, best_cost, domains = probe({})
    picks: dict[str, Any] = {}
    improved = target is None or best_cost > target
    while improved and len(cache) < max_evaluations:
        improved = False
        for name, domain in list(domains.items()):
            for value in domain:
                if len(cache) >= max_evaluations:
                    break
                candidate = {**picks, name: value}
                try:
                    spec, value_cost, new_domains = probe(candidate)
                except Exception:  # noqa: BLE001 - a pick the space refuses is no candidate
                    continue
                if value_cost < best_cost:
                    best_spec, best_cost, picks, domains = spec, value_cost, candidate, {
                        **domains, **new_domains}
                    improved = True
                    if target is not None and best_cost <= target:
                        return best_spec, best_cost
    return best_spec, best_cost
