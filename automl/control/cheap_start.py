"""The first candidates of a new search: each family's strong default, and the cheapest.

**Strong start** (``search.family_start``, on by default). Every family the architecture space
offers gets a measured chance before the sampler shares out the budget, and that chance is the
family's *strong default* (``search_spaces.arch.auto.STRONG_PICKS``): MiniRocket-sized rocket
with its ridge head, a two-layer MLP of about 256 with batch norm, the middle of a convnet's
space. Without a timeout they are queued in the order ``start_order`` gives (sequence families
first for samples that look like signals): a statistic of the inputs orders them, never removes
one. With a timeout they are queued one at a time, and the next is the family whose candidates
so far (the cheapest of each family, trained first) scored best on validation
(:class:`StrongStarts`): on ArrowHead at 30 s the cnn1d's strong start (its cheapest at 0.33)
took the time the rocket's (its cheapest at 1.0) needed. Which families then keep getting
candidates is measured (``automl/policy/families.py``).

**Cheap start** (``search.cheap_start``). A search for accuracy against cost has two ends to
cover. Random start-up proposals land in the middle of the cost range, and the sampler finds
the cheap end only after many candidates (on the benchmark's tables, after 30-75 % of the
budget). The cheapest candidates are also the quickest to train, so trying them first costs
seconds and gives the front its cheap end and the sampler a baseline at once (FLAML's
cost-frugal search starts from the low-cost point for the same reason). By default (``auto``)
only a Pareto search with a timeout starts cheap: there the budget is time, and the front's
cheap end came late. On the 40-trial demo (digits, 4 seeds) the cheap start bought no accuracy
(98.80 vs 98.88 % mean test) and took 1.4x the time. ``always`` and ``never`` override this.
For each family, :func:`search_spaces.probe.cheapest` finds the candidate of least cost on the
meta device.

Both kinds train with the loss space's first choices (plain cross-entropy in ``searched``) and
the middle of each hyperparameter range (:class:`~search_spaces.probe.MiddleTrial`: AdamW at a
learning rate of 3e-3, the middle batch size). Those within ``limits.max_params`` and
``limits.max_flops`` are queued (``Study.enqueue_trial``) before the first trial, the cheapest
first (seconds each: every family measured early), then the strong ones, with the user
attribute ``start`` = ``"cheapest"`` or ``"strong"``. (Strong ones first was measured worse: at
half the suite's budgets they took most of the time, mean test accuracy 91.7 % against 93.5 %
over 10 sets, benchmarks/RESULTS.md.) They are then trained and ranked like any other
candidate; the cheapest may be pruned at a rung, a strong start is trained in full (only the
deadline stops it), so every family's chance is measured at full length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.policy.families import FAMILY  # each of its values gets its own first candidates

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.policy.budget import Deadline
    from automl.policy.plan import StudyPlan
    from automl.storage import Storage
    from automl.storage.runs import Run

START_ATTR = "start"  # user attribute of a queued first trial: "cheapest" or STRONG
STRONG = "strong"  # a family's strong default: trained in full, never cut at a rung
# Cost evaluations per family: enough for coordinate descent over the built-in spaces
# (typically 20-40 specs), bounded for a plug-in space with many parameters.
MAX_EVALUATIONS = 80


def cheap_start_params(cfg: StudyConfig, info: Any, hparam_options: dict[str, Any]
                       ) -> list[dict[str, Any]]:
    """The parameters of the candidates to try first, cheapest first: one per family."""
    from automl.config import cost_known_among
    from automl.policy.limits import StaticCosts, arch_sampler, violation
    from search_spaces import sample_hparams, sample_loss
    from search_spaces.probe import MiddleTrial, ProbeTrial, cheapest

    sample, costs = arch_sampler(cfg, info), StaticCosts()
    # Known on the meta device without building a model: parameters and FLOPs.
    cost = costs.of(cost_known_among(cfg.study.cost, ("params", "flops")))
    first = ProbeTrial()
    sample(first)
    families = first.domains.get(FAMILY, (None,))
    loss_trial, hp_trial = ProbeTrial(), MiddleTrial()
    sample_loss(cfg.search.loss, loss_trial, info, cfg.search.loss_options)
    sample_hparams(cfg.search.hparams, hp_trial, hparam_options)
    found = []
    for family in families:
        fixed = {} if family is None else {FAMILY: family}
        try:
            found.append(cheapest(sample, cost, fixed=fixed, max_evaluations=MAX_EVALUATIONS))
        except Exception:  # noqa: BLE001 - a family that cannot be built is left to the trials
            continue
    # One over a parameter or FLOPs limit would only be pruned before training.
    found = [c for c in found if violation(cfg.limits, {
        "params": costs.of("params")(c.spec), "flops": costs.of("flops")(c.spec)}) is None]
    found.sort(key=lambda c: c.cost)
    return [{**c.params, **loss_trial.values, **hp_trial.values} for c in found]


def strong_start_params(cfg: StudyConfig, info: Any, hparam_options: dict[str, Any]
                        ) -> list[dict[str, Any]]:
    """The parameters of each family's strong default candidate, in ``start_order``."""
    from automl.policy.limits import StaticCosts, arch_sampler, violation
    from search_spaces import sample_hparams, sample_loss
    from search_spaces.arch.auto import start_order, strong_picks
    from search_spaces.probe import MiddleTrial, ProbeTrial

    sample, costs = arch_sampler(cfg, info), StaticCosts()
    first = ProbeTrial()
    sample(first)
    # The families offered: the ``family`` choice, or the one prefix of an ``auto`` space
    # left with a single family (its parameters are still asked as ``mlp.n_layers``).
    offered = first.domains.get(FAMILY) or tuple(dict.fromkeys(
        k.split(".")[0] for k in first.domains if "." in k))
    loss_trial, hp_trial = ProbeTrial(), MiddleTrial()
    sample_loss(cfg.search.loss, loss_trial, info, cfg.search.loss_options)
    sample_hparams(cfg.search.hparams, hp_trial, hparam_options)
    picks = ([{FAMILY: f, **{f"{f}.{k}": v for k, v in strong_picks(f).items()}}
              for f in start_order(info, offered)] if offered
             else [strong_picks(cfg.search.arch)])
    def fits(trial: MiddleTrial) -> bool:
        spec = sample(trial)
        return violation(cfg.limits, {"params": costs.of("params")(spec),
                                      "flops": costs.of("flops")(spec)}) is None

    def fitting(pick: dict[str, Any]) -> MiddleTrial | None:
        """``pick`` within the limits; an MLP over them with the most members that fit."""
        trial = MiddleTrial(pick)
        if fits(trial):
            return trial
        key = next((k for k in trial.domains if k.split(".")[-1] == "members"), "")
        fewer = sorted((k for k in trial.domains.get(key, ()) if k != trial.values[key]),
                       reverse=True)
        return next((t for t in (MiddleTrial({**pick, key: k}) for k in fewer) if fits(t)),
                    None)

    out = []
    for pick in picks:
        try:
            trial = fitting(pick)
        except Exception:  # noqa: BLE001 - a family that cannot be built is left to the trials
            continue
        if trial is not None:
            out.append({**trial.values, **loss_trial.values, **hp_trial.values})
    return out


def wanted(cfg: StudyConfig) -> bool:
    """Whether a new study of ``cfg`` starts cheap: a Pareto search, with a timeout unless
    ``search.cheap_start`` is ``always`` (or never, when it is ``never``)."""
    mode = cfg.search.cheap_start
    if mode == "never" or cfg.study.objective == "val_accuracy":
        return False
    return mode == "always" or cfg.study.timeout is not None


def queue_starts(study: optuna.Study, cfg: StudyConfig, plan: StudyPlan, most: int
                 ) -> list[dict[str, Any]]:
    """Queue at most ``most`` first candidates in ``study`` when it has no trial yet: the
    cheapest of each family when :func:`wanted` says so, then each family's strong default
    (unless ``search.family_start`` is off). With a timeout the strong ones are returned
    instead, for :class:`StrongStarts` to queue one at a time while the time left would train
    them (queued at once, those the deadline never reached would be left waiting)."""
    if most < 1 or study.get_trials(deepcopy=False):
        return []
    cheap = cheap_start_params(cfg, plan.info, plan.hparam_options) if wanted(cfg) else []
    strong = [p for p in strong_start_params(cfg, plan.info, plan.hparam_options)
              if all(p != q for q in cheap)] if cfg.search.family_start else []
    later = strong if cfg.study.timeout is not None else []
    queue = [(p, "cheapest") for p in cheap] + [(p, STRONG) for p in strong if not later]
    for params, kind in queue[:most]:
        study.enqueue_trial(params, user_attrs={START_ATTR: kind})
    return later[:max(0, most - len(queue))]


class StrongStarts:
    """A trial callback that queues the strong starts of a search with a timeout, one at a
    time: when nothing else is queued, the run has a trial left for it, and the time left is
    at least what the last finished trial took. Which one next is measured: the family whose
    candidates so far (the cheapest of each, first) reached the best validation figure
    (:func:`next_strong`), so a short budget spends its time where the evidence points."""

    def __init__(self, params: list[dict[str, Any]], run: Run, deadline: Deadline,
                 storage: Storage | None = None) -> None:
        """``storage``: the run's room is counted, and the start queued, under the study's
        claim lock (:func:`automl.control.loop.queue_turn`), so no peer's claim comes between."""
        self.pending, self.run, self.deadline = list(params), run, deadline
        self.storage = storage

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from automl.control.loop import queue_turn

        if not self.pending:
            return
        took = 0.0
        if trial.datetime_start and trial.datetime_complete:
            took = (trial.datetime_complete - trial.datetime_start).total_seconds()
        if self.deadline.remaining() < took:
            return
        trials = study.get_trials(deepcopy=False)
        with queue_turn(study, self.run, self.storage) as now:
            if now.waiting or self.run.requested - now.finished - now.running < 1:
                return
            pick = next_strong(self.pending, trials)
            study.enqueue_trial(self.pending.pop(pick), user_attrs={START_ATTR: STRONG})


def next_strong(pending: list[dict[str, Any]], trials: list[Any]) -> int:
    """The index in ``pending`` of the strong start to queue next: the one whose family's
    measured candidates in ``trials`` reached the best validation figure (completed, or the
    best epoch of one a rung stopped: ``automl/policy/families.py``); a family not measured
    yet comes after measured ones; ties keep the order given (``start_order``)."""
    import math

    from automl.policy.families import entries_from_trials, standings

    families = [str(p.get(FAMILY)) for p in pending]
    entries, n_val = entries_from_trials(trials)
    table = standings(entries, families, n_val)

    def best(i: int) -> float:
        figure = table[families[i]].best
        return -math.inf if figure is None else figure

    return max(range(len(pending)), key=lambda i: (best(i), -i))
