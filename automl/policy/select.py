"""Which trial(s) to export: ``best``, ``knee``, a trial number, or the whole Pareto front. Pure.

Definitions (the leaderboard's axes: validation accuracy against the study's cost, by default
FLOPs; test accuracy never takes part in a choice):

* ``best``: the completed trial with the highest validation accuracy. Accuracies within one
  validation sample of the highest count as tied (a difference of one sample is below what the
  split can tell apart; ties are common, digits saturates validation at 1.0). A tie goes to the
  higher recent validation accuracy (``val_recent``: the mean over the candidate's last 3
  epochs, :func:`automl.policy.ranking.recent_accuracy`; a candidate that held the accuracy rather
  than touched it once), then to the higher accuracy, the lower cost and the lower trial number
  (the leaderboard's own order among equals, :func:`automl.policy.ranking.order_key`), so the
  choice is deterministic. On small data, where contenders were also cross-validated
  (:mod:`automl.policy.crossval`), the rule runs on their cross-validated accuracy (a mean over
  folds is already steady; ``val_recent`` is not consulted), among the cross-validated
  candidates that no candidate without folds leads on the holdout by the validation noise or
  more (:func:`trainer.metrics.validation_noise`, never less than one sample): folds and a
  holdout are not the same figure, and an early MLP's folds (0.585) once beat a rocket 28
  points above it on the holdout whose folds the deadline had not allowed; but on 6
  validation series (ArrowHead) one sample is 17 points, and a rocket whose leave-one-out
  (0.833) led every fold figure lost the choice to an MLP's folds (0.814) because candidates
  without folds were one series ahead of it on the holdout. No figure that depends on the
  loss trained decides: a validation loss says how confident a network is, so label smoothing,
  focal and the noise-robust losses would lose every tie to plain cross-entropy by construction
  (until issue 22 the validation loss came second; it decided digits and GunPoint).
* ``knee``: :func:`automl.policy.ranking.knee` over the Pareto front of (validation accuracy,
  cost): with accuracy and log10(cost) each scaled to [0, 1] over the front, the member
  farthest above the straight line from the cheapest member to the most accurate one, i.e.
  where buying more accuracy starts to cost disproportionately more. A front of one or two
  members gives its most accurate member.
* ``--pareto``: every member of the front (Pareto rank 0), most accurate first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from automl.config import DEFAULT_COST
from automl.export.errors import ExportError
from automl.policy.ranking import knee, measured, order_key, pareto_ranks
from automl.storage.records import TrialRecord
from trainer.metrics import validation_noise

CHOICES = ("best", "knee")


def _cost(rec: TrialRecord, cost: str) -> float:
    value = rec.cost(cost)
    return float("inf") if value is None else value  # an unpriced trial never wins a tie


def _complete(records: Sequence[TrialRecord], study: str) -> list[TrialRecord]:
    done = [r for r in records if r.state == "COMPLETE" and r.val_accuracy is not None]
    if not done:
        counts: dict[str, int] = {}
        for r in records:
            counts[r.state.lower()] = counts.get(r.state.lower(), 0) + 1
        have = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
        raise ExportError(f"study {study!r} has no completed trial with weights ({have})")
    return done


def best_trial(records: Sequence[TrialRecord], cost: str = DEFAULT_COST, study: str = "?"
               ) -> TrialRecord:
    """Highest cross-validated accuracy where measured, else highest validation accuracy, with
    accuracies within one validation sample of the best counted as tied; ties to the steadier
    recent accuracy (not cross-validated), then the higher accuracy, lower ``cost`` and trial
    number. Never the loss: it would favour the confident networks plain CE trains."""
    done = _complete(records, study)
    # The folds compare only candidates that no candidate without folds leads on the holdout
    # by the validation noise or more (at least one sample).
    plain = max((float(r.val_accuracy or 0.0) for r in done if r.cv_accuracy is None),
                default=0.0)
    n_val = max(r.val_samples or 0 for r in done)
    # Without the split's size (trials stored before it was), any lead counts, as before.
    lead = validation_noise(plain, n_val) - 1e-12 if n_val else 1e-12
    validated = [r for r in done if r.cv_accuracy is not None
                 and plain - float(r.val_accuracy or 0.0) < lead]
    if validated:
        return _pick(validated, lambda r: float(r.cv_accuracy or 0.0),
                     max(r.cv_samples or 0 for r in validated), cost, steady=lambda r: 0.0)
    return _pick(done, lambda r: float(r.val_accuracy or 0.0),
                 max(r.val_samples or 0 for r in done), cost, steady=_recent)


def _recent(rec: TrialRecord) -> float:
    # Trials stored before val_recent existed (and repeats) all count as -1: the next rule decides.
    return -1.0 if rec.val_recent is None else float(rec.val_recent)


def _pick(pool: Sequence[TrialRecord], acc: Callable[[TrialRecord], float], samples: int,
          cost: str, steady: Callable[[TrialRecord], float]) -> TrialRecord:
    # One sample of the validation data is below what it can tell apart: accuracies that
    # close are a tie, decided by the steadier accuracy.
    top = max(acc(r) for r in pool)
    tol = 1.0 / samples if samples else 0.0
    tied = [r for r in pool if acc(r) >= top - tol - 1e-12]
    # The last rules (accuracy, cost, number) are the leaderboard's own order_key.
    return min(tied, key=lambda r: (-steady(r), *order_key(acc(r), r.cost(cost), r.number)))


def _front(done: Sequence[TrialRecord], cost: str) -> list[TrialRecord]:
    # The trials the leaderboard ranks: accuracy and cost both measured (not None, not NaN).
    return sorted((r for r in done if measured(r.val_accuracy) is not None
                   and measured(r.cost(cost)) is not None), key=lambda r: r.number)


def pareto_trials(records: Sequence[TrialRecord], cost: str = DEFAULT_COST, study: str = "?"
                  ) -> list[TrialRecord]:
    """Pareto-front members on (val accuracy, cost), most accurate first (then cheaper)."""
    priced = _front(_complete(records, study), cost)
    if not priced:
        raise ExportError(f"study {study!r}: no completed trial has a {cost!r} figure")
    ranks = pareto_ranks([(float(r.val_accuracy or 0.0), _cost(r, cost)) for r in priced])
    front = [r for r, k in zip(priced, ranks, strict=True) if k == 0]
    return sorted(front, key=lambda r: order_key(r.val_accuracy, r.cost(cost), r.number))


def knee_trial(records: Sequence[TrialRecord], cost: str = DEFAULT_COST, study: str = "?"
               ) -> TrialRecord:
    """The front member with the best accuracy-per-cost trade-off (see the module docstring)."""
    priced = _front(_complete(records, study), cost)
    if not priced:
        raise ExportError(f"study {study!r}: no completed trial has a {cost!r} figure")
    index = knee([(float(r.val_accuracy or 0.0), _cost(r, cost)) for r in priced])
    assert index is not None  # priced is not empty
    return priced[index]


def numbered_trial(records: Sequence[TrialRecord], number: int, study: str = "?"
                   ) -> TrialRecord:
    """Trial ``number``, which must exist and be complete."""
    for r in records:
        if r.number == number:
            if r.state != "COMPLETE":
                why = f": {r.reason}" if r.reason else ""
                raise ExportError(
                    f"trial {number} of study {study!r} is {r.state}, not COMPLETE, so it has "
                    f"no weights{why}"
                )
            return r
    numbers = sorted(r.number for r in records)
    known = f"{numbers[0]}-{numbers[-1]}" if numbers else "none"
    raise ExportError(f"study {study!r} has no trial {number} (trials: {known})")


def parse_choice(text: str) -> str | int:
    """``best`` | ``knee`` | a trial number, as given to ``--trial``."""
    t = text.strip().lower()
    if t in CHOICES:
        return t
    if t.isascii() and t.isdigit():  # '²'.isdigit() is true, and int('²') fails
        return int(t)
    raise ExportError(f"--trial {text!r}: expected best, knee or a trial number")


def select(records: Sequence[TrialRecord], choice: str | int, *, cost: str = DEFAULT_COST,
           pareto: bool = False, study: str = "?") -> list[TrialRecord]:
    """The trials an export writes: the whole front with ``pareto``, else the one ``choice``."""
    if pareto:
        return pareto_trials(records, cost, study)
    if choice == "best":
        return [best_trial(records, cost, study)]
    if choice == "knee":
        return [knee_trial(records, cost, study)]
    if isinstance(choice, int):
        return [numbered_trial(records, choice, study)]
    raise ExportError(f"--trial {choice!r}: expected best, knee or a trial number")
