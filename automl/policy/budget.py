"""How long each candidate trains, and the deadline a ``--timeout`` sets. Pure decisions.

The rule (also in the README):

* **Epochs scale with the data.** With ``search.adapt_epochs`` (the default) a candidate
  trains ``max(trainer.epochs, ceil(MIN_STEPS / steps_per_epoch))`` epochs, at most
  ``MAX_EPOCHS``, where ``steps_per_epoch`` is counted at the middle of the searched batch
  sizes: a 40-sample data set gets enough optimizer steps to learn, a large one keeps
  ``trainer.epochs``. ``--epochs N`` on the command line fixes N.
* **A timeout bounds every candidate.** With ``--timeout T``, once epoch times have been
  measured, a candidate trains at most ``(T / FULL_SHARE) / median epoch seconds`` epochs (and
  at least the first pruning rung): no single candidate may eat more than an eighth of the
  budget, so the search tries many; successive halving stops most of them much earlier.
* **The deadline holds.** Candidates still training when only their family's lead-out (the
  test split's scoring after the last epoch, as measured) is left before ``T`` stop at the next
  batch (the trainer's ``stop_at``), kept with their best finished epoch (reason ``deadline``);
  no candidate starts when less than one median epoch is left, or less than its family's
  lead-in (the time before its first epoch, e.g. rocket's feature fit), an epoch and its
  lead-out.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.config import StudyConfig

MIN_STEPS = 300  # optimizer steps a candidate should get, if the data set is tiny
MIN_RUNG_STEPS = 50  # optimizer steps before the first successive-halving comparison
MAX_EPOCHS = 500
FULL_SHARE = 8  # a full-length candidate may use at most 1/FULL_SHARE of a timeout
DEFAULT_TRIALS = 20  # a run's goal when study.trials is not given and there is no timeout
UNLIMITED_TRIALS = 10**9  # ... with a timeout: the clock ends the run (fits a 32-bit column)


def trial_goal(trials: int | None, timeout: float | None) -> int:
    """The finished trials a run aims at: ``study.trials`` where given, else as many as fit
    before the timeout, else :data:`DEFAULT_TRIALS`."""
    if trials is not None:
        return trials
    return DEFAULT_TRIALS if timeout is None else UNLIMITED_TRIALS


def study_epochs(base_epochs: int, n_train: int, batch_sizes: Sequence[int],
                 adapt: bool = True) -> int:
    """Epochs of a full-length candidate in this study (see the module docstring)."""
    if not adapt:
        return base_epochs
    steps = steps_per_epoch(n_train, batch_sizes)
    return max(base_epochs, min(MAX_EPOCHS, math.ceil(MIN_STEPS / steps)))


def hparam_options_for(cfg: StudyConfig, n_train: int) -> dict[str, Any]:
    """The hyperparameter space's options: batch sizes scale with the data unless the study
    file bounds them."""
    from search_spaces.hparams import scaled_batch_sizes

    return {"batch_sizes": scaled_batch_sizes(n_train), **cfg.search.hparam_options}


def first_rung(epochs: int, steps_per_epoch: int) -> int:
    """The first successive-halving rung for a study whose candidates train ``epochs``: at
    least ``MIN_RUNG_STEPS`` optimizer steps in, since a ranking after a handful of steps
    measures the initialization, not the candidate. The one rule for both MO-ASHA (Pareto
    searches) and Optuna's ASHA pruner (``study.pruner = "asha"``)."""
    return max(1, epochs // 20, math.ceil(MIN_RUNG_STEPS / max(1, steps_per_epoch)))


def steps_per_epoch(n_train: int, batch_sizes: Sequence[int]) -> int:
    """Optimizer steps an epoch at the middle of the searched batch sizes."""
    sizes = sorted(batch_sizes) or [64]
    return max(1, math.ceil(n_train / sizes[len(sizes) // 2]))


@dataclass
class Deadline:
    """A wall-clock budget shared by the search loop and the objective (monotonic seconds).

    ``end`` is None without a timeout. Epoch times reported with :meth:`epoch_done` feed the
    estimate :meth:`epochs_for` caps candidates with. ``reserve`` seconds before ``end`` are
    kept for the refit that follows the search: the trials see them as already gone.
    ``clock`` reads the time (tests inject one; the search uses ``time.monotonic``).
    """

    end: float | None = None
    timeout: float | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    reserve: float = 0.0  # seconds kept back at the end for the refit (automl/control/refit.py)
    # Per family, the longest lead-in seen: from a candidate's start to its first epoch's
    # report, outside the epoch timer (rocket fits its features there; processes start there);
    # and the longest lead-out: from its last report to its end (the test split's scoring).
    lead_ins: dict[str, float] = field(default_factory=dict)
    lead_outs: dict[str, float] = field(default_factory=dict)
    # ... and its largest lead-out / lead-in: both grow with what a candidate computes before
    # training and after it (rocket's features of 10,000 kernels take longer than of 1,000).
    lead_ratios: dict[str, float] = field(default_factory=dict)
    refused: bool = False  # a candidate was not started for lack of time: start no more

    @classmethod
    def starting(cls, timeout: float | None, started: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> Deadline:
        start = clock() if started is None else started
        return cls(None if timeout is None else start + timeout, timeout, clock=clock)

    def remaining(self) -> float:
        """Seconds left for the search's trials (the refit's reserve kept back)."""
        return self.left() - self.reserve

    def left(self) -> float:
        """Seconds left before the timeout, the reserve included."""
        return math.inf if self.end is None else self.end - self.clock()

    def epoch_done(self, seconds: float) -> None:
        self.epoch_seconds.append(seconds)
        del self.epoch_seconds[:-200]  # recent candidates describe the search best

    def typical_epoch(self) -> float | None:
        return statistics.median(self.epoch_seconds) if self.epoch_seconds else None

    def can_start(self) -> bool:
        """Whether a new candidate can still train at least one typical epoch."""
        typical = self.typical_epoch() or 0.0
        return not self.refused and self.remaining() > typical

    def lead_in_done(self, family: str, seconds: float) -> None:
        self.lead_ins[family] = max(seconds, self.lead_ins.get(family, 0.0))

    def lead_out_done(self, family: str, seconds: float, lead_in: float | None = None) -> None:
        self.lead_outs[family] = max(seconds, self.lead_outs.get(family, 0.0))
        if lead_in:
            self.lead_ratios[family] = max(seconds / lead_in, self.lead_ratios.get(family, 0.0))

    def training_left(self, family: str, lead_in: float | None = None) -> float:
        """Seconds a candidate of ``family`` may still train: its lead-out comes after (the
        family's, or its own lead-in times the family's ratio when that is more)."""
        out = _lead(self.lead_outs, family)
        if lead_in and family in self.lead_ratios:
            out = max(out, self.lead_ratios[family] * lead_in)
        return self.remaining() - out

    def fits(self, family: str) -> bool:
        """Whether a candidate of ``family`` can train one typical epoch in time (its lead-in
        and lead-out as measured before); if not, no candidate starts again."""
        need = _lead(self.lead_ins, family) + (self.typical_epoch() or 0.0)
        need += _lead(self.lead_outs, family)
        self.refused = self.refused or self.remaining() <= need
        return not self.refused

    def epochs_for(self, epochs: int, min_epochs: int) -> int:
        """``epochs`` capped so one candidate takes at most 1/FULL_SHARE of the timeout."""
        typical = self.typical_epoch()
        if self.timeout is None or not typical:
            return epochs
        cap = int(self.timeout / FULL_SHARE / typical)
        return max(min(min_epochs, epochs), min(epochs, cap))


def _lead(leads: dict[str, float], family: str) -> float:
    """``family``'s measured lead; a family not measured yet is taken to be as slow as the
    slowest measured one (rocket's first candidate after an MLP's would otherwise count 0)."""
    return leads[family] if family in leads else max(leads.values(), default=0.0)


class LeadTimer:
    """Measures one candidate's lead-in and lead-out for its family's figures in ``deadline``
    (see :class:`Deadline`): :meth:`reported` when an epoch's report arrives (its training
    seconds), :meth:`handled` once it is handled, :meth:`ended` when the training call returns
    (``cut``: stopped by the deadline between reports, so the time since the last one is no
    lead-out)."""

    def __init__(self, deadline: Deadline, family: str) -> None:
        self.deadline, self.family = deadline, family
        self.began = deadline.clock()
        self.last: float | None = None
        self.lead_in: float | None = None  # this candidate's, once its first report came

    def reported(self, seconds: float) -> None:
        if self.lead_in is None:
            self.lead_in = self.deadline.clock() - self.began - seconds
            self.deadline.lead_in_done(self.family, self.lead_in)

    def handled(self) -> None:
        self.last = self.deadline.clock()

    def elapsed(self) -> float:
        """Seconds since the candidate's training call began."""
        return self.deadline.clock() - self.began

    def training_left(self) -> float:
        """Seconds this candidate may still train before its own expected lead-out."""
        return self.deadline.training_left(self.family, self.lead_in)

    def ended(self, cut: bool) -> None:
        if self.last is not None and not cut:
            self.deadline.lead_out_done(self.family, self.deadline.clock() - self.last,
                                        self.lead_in)
