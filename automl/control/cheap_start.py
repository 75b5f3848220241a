"""A cost-frugal start: a new Pareto search first trains the cheapest candidate of each family.

A search for accuracy against cost has two ends to cover. Random start-up proposals land in
the middle of the cost range, and the sampler finds the cheap end only after many candidates
(on the benchmark's tables, after 30-75 % of the budget). The cheapest candidates are also the
quickest to train, so trying them first costs seconds and gives the front its cheap end and
the sampler a baseline at once (FLAML's cost-frugal search starts from the low-cost point for
the same reason).

By default (``search.cheap_start = "auto"``) only a search with a timeout starts cheap: there
the budget is time, and the front's cheap end came late. A search for a number of trials has
no such race. On the 40-trial demo (digits, 4 seeds) the cheap start bought no accuracy
(98.80 vs 98.88 % mean test) and took 1.4x the time, because the sampler then tried more CNNs.
``always`` and ``never`` override this.

For each family the architecture space offers (the ``family`` parameter of ``auto``; a space
without it has one), :func:`search_spaces.probe.cheapest` finds the candidate of least cost on
the meta device. Its loss is the loss space's first choices (plain cross-entropy in
``searched``) and its hyperparameters are the middle of their ranges
(:class:`~search_spaces.probe.MiddleTrial`: AdamW at a learning rate of 3e-3, the middle batch
size). Those within ``limits.max_params`` and ``limits.max_flops`` are queued in the study
(``Study.enqueue_trial``) before its first trial, in order of cost, with the user attribute
``start = "cheapest"``. The queued candidates are then trained, pruned and ranked like any
other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.policy.plan import StudyPlan

START_ATTR = "start"  # user attribute of a queued cheap-start trial
FAMILY = "family"  # the parameter whose every value gets its own cheapest candidate
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


def wanted(cfg: StudyConfig) -> bool:
    """Whether a new study of ``cfg`` starts cheap: a Pareto search, with a timeout unless
    ``search.cheap_start`` is ``always`` (or never, when it is ``never``)."""
    mode = cfg.search.cheap_start
    if mode == "never" or cfg.study.objective == "val_accuracy":
        return False
    return mode == "always" or cfg.study.timeout is not None


def queue_cheap_start(study: optuna.Study, cfg: StudyConfig, plan: StudyPlan, most: int
                      ) -> int:
    """Queue at most ``most`` cheapest candidates in ``study`` when it has no trial yet and
    :func:`wanted` says so; returns how many were queued."""
    if not wanted(cfg) or most < 1 or study.get_trials(deepcopy=False):
        return 0
    params = cheap_start_params(cfg, plan.info, plan.hparam_options)[:most]
    for p in params:
        study.enqueue_trial(p, user_attrs={START_ATTR: "cheapest"})
    return len(params)
