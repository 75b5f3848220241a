"""A measured chance for the losses made for noisy labels and long tails.

The loss is sampled with the architecture, and on a short budget a search trains few
candidates: the cheap start's are all plain cross-entropy (the loss space's first choice), and
the sampler's first proposals spread over a dozen loss families, so a loss that would pay on
the data may never meet a good architecture. So once ``PROBE_AFTER`` trials have completed,
the best candidate so far (highest validation figure) is queued again, unchanged but for its
loss, with each probe: generalized cross-entropy with q = 0.7 (Zhang and Sabuncu's default
for noisy labels) and logit adjustment with τ = 1 (Menon et al.'s default for long tails; the
same loss as balanced softmax). A probe is trained in full: no rung or pruner cuts it (these
losses learn more slowly in the first epochs, and a chance cut at the first rung is no
chance; the deadline still stops it). It is ranked like any other trial and the sampler learns
from it: the measured results decide whether either family pays on this data, not a
statistic of the labels. On a clean, balanced set a probe costs one candidate's training
(logit adjustment on balanced classes is plain cross-entropy).

Probes are queued only where they would run: while the run has that many trials left to start
(beside the candidates already queued) and the time left would train them, each as long as
the trial they copy took; otherwise a later completion looks again. With a timeout they are
queued one at a time, the next once the one before has completed, nothing else is queued and
the time left would train it again, so that none is left waiting at T. Only the ``searched`` loss
space has probes (a named space is the user's choice), only for the
families and values its options allow, and only with ``search.loss_probes`` on (the default).
The study's user attribute ``loss_probes`` records the trial the probes copied, so that a study
queues them once (the check and the mark are under a lease of the study's, so two workers that
finish trials in the same instant do not both queue them); the run's room is counted and the
probes queued under the study's claim lock, so that no peer claims a trial in between and
leaves a probe waiting when the run meets its target.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from automl.control.cheap_start import START_ATTR  # PROBE here, "cheapest" there

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.policy.budget import Deadline
    from automl.storage import Storage
    from automl.storage.runs import Run

PROBE_AFTER = 3  # completed trials before the probes copy the best of them
ATTR = "loss_probes"  # study user attribute: the trial number the probes copied
PROBE = "loss probe"  # a probe's START_ATTR
# family -> (the options' range field, the trial parameter, its probe value)
PROBES: dict[str, tuple[str, str, float]] = {
    "gce": ("q_range", "loss_q", 0.7),
    "logit_adjust": ("tau_range", "loss_tau", 1.0),
}


def probe_params(cfg: StudyConfig) -> list[dict[str, Any]]:
    """The trial parameters of the probes a search of ``cfg`` queues: none unless it searches
    the ``searched`` space with ``search.loss_probes``; only for the families its options allow
    and whose probe value lies in the options' range; unweighted where the options allow it
    (else ``loss_cb`` is left to the sampler)."""
    if cfg.search.loss != "searched" or not cfg.search.loss_probes:
        return []
    from search_spaces import SearchedLossOptions, make_options

    o = make_options(SearchedLossOptions, cfg.search.loss_options, "search.loss_options")
    out = []
    for family, (field, name, value) in PROBES.items():
        low, high = getattr(o, field)
        if family in o.families and low <= value <= high:
            out.append({"loss_family": family, name: value,
                        **({"loss_cb": False} if False in o.class_balanced else {})})
    return out


class LossProbes:
    """A trial callback (``optimize``'s ``callbacks``) that queues the probes once."""

    def __init__(self, cfg: StudyConfig, run: Run | None = None,
                 deadline: Deadline | None = None, storage: Storage | None = None) -> None:
        """``run``: the run whose trials the probes join (queued only while it has room for
        them beside its queued trials); ``deadline``: queued only while the time left would
        train them, each as long as the trial they copy took."""
        self.probes = probe_params(cfg)
        self.done = not self.probes
        self.run, self.deadline, self.storage = run, deadline, storage
        # Against the clock the probes are queued one at a time, as the strong starts are
        # (cheap_start.StrongStarts): queued together, the second was left waiting at T.
        self.one_by_one = deadline is not None and deadline.timeout is not None
        self.later: list[dict[str, Any]] = []

    def _enqueue(self, study: optuna.Study, like: optuna.trial.FrozenTrial,
                 params: list[dict[str, Any]], mark: bool = False) -> bool:
        """Queue ``params`` as probes if the time left would train each as long as ``like``
        took and the run has room for them beside its queued trials (one at a time against
        the clock: only when none is queued). The run's room is counted, and the probes
        queued, under the study's claim lock (:func:`automl.control.loop.queue_turn`): no
        worker claims in between, so none is left waiting when the run meets its target.
        ``mark``: record ``like`` as the trial the probes copied (:data:`ATTR`)."""
        if self.deadline is not None and like.datetime_start and like.datetime_complete:
            took = (like.datetime_complete - like.datetime_start).total_seconds()
            if self.deadline.remaining() < len(params) * took:
                return False
        with contextlib.ExitStack() as held:
            if self.run is not None:
                from automl.control.loop import queue_turn

                now = held.enter_context(queue_turn(study, self.run, self.storage))
                left = self.run.requested - now.finished - now.running - now.waiting
                if now.waiting and self.one_by_one or left < len(params):
                    return False
            if mark:
                study.set_user_attr(ATTR, like.number)
            for p in params:
                study.enqueue_trial(p, user_attrs={START_ATTR: PROBE})
        return True

    def _batch(self) -> int:
        return 1 if self.one_by_one else len(self.probes)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        if self.done and not self.later or trial.state != optuna.trial.TrialState.COMPLETE:
            return
        queue = self._queue if not self.done else self._next
        if self.storage is None:
            queue(study)
            return
        from automl.storage.runs import lease

        # Two workers finishing at once would each see no probes yet and queue them twice.
        with lease(self.storage, f"probes:{study.study_name}"):
            queue(study)

    def _queue(self, study: optuna.Study) -> None:
        import optuna

        if study.user_attrs.get(ATTR) is not None:
            self.done = True
            return
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.values]
        if len(complete) < PROBE_AFTER:
            return
        best = max(complete, key=lambda t: (t.values[0], -t.number))
        base = {k: v for k, v in best.params.items() if not k.startswith("loss_")}
        params = [{**base, **probe} for probe in self.probes]
        if not self._enqueue(study, best, params[:self._batch()], mark=True):
            return  # a later trial may still find room (a run with more trials left)
        self.later = params[self._batch():]
        self.done = True

    def _next(self, study: optuna.Study) -> None:
        """The next probe, against the clock: once nothing is queued and the time left would
        train it as long as the probe before it took."""
        import optuna

        trials = study.get_trials(deepcopy=False)
        probes = [t for t in trials if t.user_attrs.get(START_ATTR) == PROBE
                  and t.state == optuna.trial.TrialState.COMPLETE]
        if probes and self._enqueue(study, probes[-1], self.later[:1]):
            self.later.pop(0)
