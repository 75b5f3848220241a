"""Which architecture families are still in the race: decided by measured results. Pure.

Every family that can read the data gets candidates (``search_spaces.arch.auto``), its strong
default first (``automl/control/cheap_start.py``). After that the budget follows the evidence:
a family stops being proposed once at least :data:`MIN_TRIED` of its candidates were measured
and the best of them trails the leader by more than the validation noise. The noise is
:data:`trainer.metrics.NOISE_SE` standard errors of a validation figure at the leader's level,
``sqrt(p (1 - p) / n_val)``, and never less than one validation sample. In a Pareto search a
family that holds a point of the front stays in, however far it trails in accuracy: it is the
best at its cost. The leader's own family always stays.

A candidate's figure is its validation accuracy (in ``study.metric``) when it completed, and
the best epoch it reached when a rung or the pruner stopped it: both measured, the second
early. Candidates never trained (over a limit, a rejected loss, a repeat) are not evidence.
The sampler steers by this (``automl/control/steering.py``), the progress line and the
leaderboard show it, all from the same trials, so they agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl.policy.front import pareto_front
from trainer.metrics import validation_noise

MIN_TRIED = 3  # measured candidates of a family before it may be dropped


@dataclass(frozen=True)
class Entry:
    """One measured candidate: its family, figure, whether it completed, and its cost (for the
    front; None when not known)."""

    family: str
    figure: float
    complete: bool = True
    cost: float | None = None


@dataclass(frozen=True)
class Standing:
    """A family's place in the race. ``dropped``: why it is no longer proposed (None: in)."""

    family: str
    tried: int
    best: float | None
    dropped: str | None = None

    @property
    def racing(self) -> bool:
        return self.dropped is None


def noise(leader: float, n_val: int) -> float:
    """How far behind ``leader`` a family's best may be before it counts as trailing."""
    return validation_noise(leader, n_val)


def standings(entries: Sequence[Entry], families: Sequence[str], n_val: int, *,
              pareto: bool = False) -> dict[str, Standing]:
    """Each of ``families`` (in that order) with its standing, from the ``entries`` so far."""
    best: dict[str, float] = {}
    tried: dict[str, int] = {}
    for e in entries:
        tried[e.family] = tried.get(e.family, 0) + 1
        best[e.family] = max(best.get(e.family, -math.inf), e.figure)
    done = [e for e in entries if e.complete]
    on_front: set[str] = set()
    if pareto:
        costed = [e for e in done if e.cost is not None]
        on_front = {costed[i].family for i in pareto_front(
            [(e.figure, float(e.cost or 0.0)) for e in costed])}
    top = max(done, key=lambda e: e.figure, default=None)
    out: dict[str, Standing] = {}
    for f in families:
        n, b = tried.get(f, 0), best.get(f)
        why = None
        if top is not None and b is not None and f != top.family and f not in on_front \
                and n >= MIN_TRIED:
            margin = noise(top.figure, n_val)
            if b < top.figure - margin:
                why = (f"best {b:.3f} in {n} candidates, {top.figure - b:.3f} behind "
                       f"{top.family}'s {top.figure:.3f} (noise {margin:.3f})")
        out[f] = Standing(f, n, b, why)
    return out


FAMILY = "family"  # the trial parameter that names a candidate's family (``auto``)


def entries_from_trials(trials: Sequence[Any]) -> tuple[list[Entry], int]:
    """The measured candidates among Optuna ``FrozenTrial``-like ``trials`` and the largest
    validation split they were measured on. A pruned candidate's figure is its user attribute
    ``val_best`` (set by the objective when a rung or the pruner stops it)."""
    out, n_val = [], 0
    for t in trials:
        family = t.params.get(FAMILY)
        if not isinstance(family, str) or "duplicate_of" in t.user_attrs:
            continue
        n_val = max(n_val, int(t.user_attrs.get("val_samples") or 0))
        state = getattr(t.state, "name", t.state)
        if state == "COMPLETE" and t.values:
            cost = t.user_attrs.get("cost")
            out.append(Entry(family, float(t.values[0]), True,
                             None if cost is None else float(cost)))
        elif state == "PRUNED" and t.user_attrs.get("val_best") is not None:
            out.append(Entry(family, float(t.user_attrs["val_best"]), False))
    return out, n_val


def entries_from_records(records: Sequence[Any], cost: str) -> tuple[list[Entry], int]:
    """The same from the project's ``TrialRecord``s (read with their epochs): a pruned
    candidate's figure is the best epoch it reached."""
    out, n_val = [], 0
    for r in records:
        family = (r.params_searched or {}).get(FAMILY)
        if not isinstance(family, str) or r.duplicate_of is not None:
            continue
        n_val = max(n_val, int(r.val_samples or 0))
        if r.state == "COMPLETE" and r.val_accuracy is not None:
            out.append(Entry(family, float(r.val_accuracy), True, r.cost(cost)))
        elif r.state == "PRUNED" and r.epochs:
            out.append(Entry(family, max(float(e.val_accuracy) for e in r.epochs), False))
    return out, n_val


def families_offered(trials: Sequence[Any]) -> tuple[str, ...]:
    """The families the space offers, as Optuna ``FrozenTrial``-like ``trials`` record the
    choices of their ``family`` parameter (none: the space has one family)."""
    for t in trials:
        dist = t.distributions.get(FAMILY)
        if dist is not None:
            return tuple(dist.choices)
    return ()


def families_seen(records: Sequence[Any]) -> tuple[str, ...]:
    """The families of the project's ``TrialRecord``s, in the order they were first tried."""
    seen: dict[str, None] = {}
    for r in sorted(records, key=lambda r: r.number):
        family = (r.params_searched or {}).get(FAMILY)
        if isinstance(family, str):
            seen[family] = None
    return tuple(seen)


def race_of_records(records: Sequence[Any], cost: str, *, pareto: bool
                    ) -> dict[str, Standing]:
    """The race as the project's ``TrialRecord``s (read with their epochs) show it."""
    entries, n_val = entries_from_records(records, cost)
    return standings(entries, families_seen(records), n_val, pareto=pareto)
