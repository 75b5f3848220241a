"""Probe a space without a study: its smallest candidate, found before any trial runs.

A search whose space cannot take the data's shape, or whose every candidate breaks a cost
limit, would otherwise be found out only after every trial failed. :class:`ProbeTrial` answers
a space's questions from fixed picks (the smallest choice by default) and records what was
asked; :func:`smallest` walks those choices one at a time (coordinate descent) to the candidate
of least cost (:func:`cheapest`, which also gives the answers that sample it, so a search can
queue it). :class:`MiddleTrial` answers the middle of each range instead. Pure: the cost
function is the caller's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
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

    A pick is a value, or a function of the values offered (``max``: the largest choice).
    A parameter not in ``picks`` gets its smallest value: the low end of a range, the least
    number of a numeric choice, the first of any other choice. ``domains`` records every
    parameter asked, with the values worth trying; ``values``, what each was answered.
    """

    number = -1  # no real trial has it: a space keyed on trial numbers sees none it knows

    def __init__(self, picks: dict[str, Any] | None = None) -> None:
        self.picks = dict(picks or {})
        self.domains: dict[str, tuple[Any, ...]] = {}
        self.values: dict[str, Any] = {}

    def _answer(self, name: str, domain: tuple[Any, ...], default: Any) -> Any:
        self.domains[name] = domain
        value = self.picks.get(name, default)
        if callable(value):  # a rule over the values offered, e.g. ``max``
            value = value(domain)
        value = value if any(value is d or value == d for d in domain) else default
        self.values[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        values = range(low, high + 1, step)
        domain = (tuple(values) if len(values) <= _MAX_INT_VALUES
                  else tuple(sorted({low, min(low + step, high), high})))
        return int(self._answer(name, domain, self._int_default(values, log)))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return float(self._answer(name, (low, high), self._float_default(low, high, step, log)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        domain = tuple(choices)
        return self._answer(name, domain, self._choice_default(domain))

    def _int_default(self, values: range, log: bool) -> int:
        return values[0]

    def _float_default(self, low: float, high: float, step: float | None, log: bool) -> float:
        return low

    def _choice_default(self, choices: tuple[Any, ...]) -> Any:
        return _smallest_choice(choices)


class MiddleTrial(ProbeTrial):
    """A :class:`ProbeTrial` whose unpicked answers are the middle of each range instead: the
    geometric middle of a log range, the middle of an ordered choice (a learning rate of 3e-3
    in 3e-4..3e-2, the middle batch size), the first of any other choice."""

    def _int_default(self, values: range, log: bool) -> int:
        if log and values[0] > 0:
            mid = math.sqrt(values[0] * values[-1])
            return min(values, key=lambda v: abs(math.log(v / mid)))
        return values[len(values) // 2]

    def _float_default(self, low: float, high: float, step: float | None, log: bool) -> float:
        mid = math.sqrt(low * high) if log and low > 0 else (low + high) / 2
        if step:  # stay on the grid the range is asked on
            mid = low + round((mid - low) / step) * step
        return min(max(float(f"{mid:.6g}"), low), high)  # 3e-3, not 0.0029999999999999996

    def _choice_default(self, choices: tuple[Any, ...]) -> Any:
        numbers = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
        return sorted(choices)[len(choices) // 2] if numbers else choices[0]


def spec_key(spec: Spec) -> Hashable:
    """The spec itself when hashable (every built-in spec is a frozen dataclass), else its
    repr: a plug-in's mutable spec is still a candidate."""
    try:
        hash(spec)
    except TypeError:
        return repr(spec)
    return spec


@dataclass(frozen=True)
class Cheapest:
    """What :func:`cheapest` found: the candidate, its cost and the answers that sample it."""

    spec: Spec
    cost: float
    params: dict[str, Any]


def smallest(
    sample: Callable[[ProbeTrial], Spec],
    cost: Callable[[Spec], float],
    *,
    target: float | None = None,
    max_evaluations: int = 200,
) -> tuple[Spec, float]:
    """(spec, cost) of :func:`cheapest`."""
    found = cheapest(sample, cost, target=target, max_evaluations=max_evaluations)
    return found.spec, found.cost


def cheapest(
    sample: Callable[[ProbeTrial], Spec],
    cost: Callable[[Spec], float],
    *,
    fixed: dict[str, Any] | None = None,
    target: float | None = None,
    max_evaluations: int = 200,
) -> Cheapest:
    """The candidate of ``sample`` with the least ``cost`` that coordinate descent finds.

    Starts from every parameter at its smallest value (those in ``fixed`` at theirs, never
    changed), then changes one parameter at a time while that lowers the cost. ``sample``
    raising on the first probe propagates (the space cannot produce even its smallest
    candidate); a later pick that raises is skipped. The walk stops early once the cost is at
    most ``target``. Costs are cached by :func:`spec_key`.
    """
    cache: dict[Hashable, float] = {}
    fixed = dict(fixed or {})

    def probe(picks: dict[str, Any]) -> tuple[Cheapest, dict[str, tuple[Any, ...]]]:
        trial = ProbeTrial({**picks, **fixed})
        spec = sample(trial)
        key = spec_key(spec)
        if key not in cache:
            cache[key] = float(cost(spec))
        return Cheapest(spec, cache[key], trial.values), trial.domains

    best, domains = probe({})
    picks: dict[str, Any] = {}
    improved = target is None or best.cost > target
    while improved and len(cache) < max_evaluations:
        improved = False
        for name, domain in list(domains.items()):
            if name in fixed:
                continue
            for value in domain:
                if len(cache) >= max_evaluations:
                    break
                candidate = {**picks, name: value}
                try:
                    found, new_domains = probe(candidate)
                except Exception:  # noqa: BLE001 - a pick the space refuses is no candidate
                    continue
                if found.cost < best.cost:
                    best, picks, domains = found, candidate, {**domains, **new_domains}
                    improved = True
                    if target is not None and best.cost <= target:
                        return best
    return best
