"""The search loop: open storage, load data, create or resume the Optuna study, optimize."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.control import interrupts
from automl.control.objective import Objective
from automl.control.reporting import Reporter
from automl.control.samplers import make_pruner, make_sampler
from automl.errors import ConfigError
from automl.policy.budget import Deadline, trial_goal
from automl.policy.limits import check_reachable
from automl.policy.plan import StudyPlan, make_plan

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.control.crossval import TrainFn
    from automl.data import PreparedData
    from automl.storage import Storage

TrialCallback = Callable[["optuna.Study", "optuna.trial.FrozenTrial"], None]


@dataclass(frozen=True)
class SearchOutcome:
    study: str
    storage_url: str  # masked
    trials_run: int
    states: dict[str, int]
    resumed: bool = False


def environment() -> dict[str, Any]:
    import optuna
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "cuda": torch.cuda.is_available(),
        "cpu_count": __import__("os").cpu_count(),
    }


def _constraints(frozen: optuna.trial.FrozenTrial) -> list[float]:
    return list(frozen.user_attrs.get("constraint", []))


def _constraints_for(cfg: StudyConfig) -> Any:
    """The sampler's constraints function when any cost limit is set, else None."""
    return _constraints if any(v is not None for v in vars(cfg.limits).values()) else None


def _sampler(cfg: StudyConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The study's sampler, steered by the family race unless ``search.family_race`` is off."""
    from automl.control.steering import steered

    return steered(make_sampler(cfg.study.sampler, seed, _constraints_for(cfg)),
                   pareto=len(cfg.directions) > 1, seed=seed, on=cfg.search.family_race)


def check_spaces(cfg: StudyConfig) -> None:
    """Fail before the first trial on an unknown space or option, not once per trial."""
    from search_spaces import ARCH_SPACES, HPARAM_SPACES, LOSS_SPACES, RegistryError, make_options

    for key, registry, options in (
        ("arch", ARCH_SPACES, cfg.search.arch_options),
        ("loss", LOSS_SPACES, cfg.search.loss_options),
        ("hparams", HPARAM_SPACES, cfg.search.hparam_options),
    ):
        name = getattr(cfg.search, key)
        where = f"search.{'hparam' if key == 'hparams' else key}_options"
        try:
            make_options(registry.options_type(name), options, where)
        except RegistryError as exc:
            raise ConfigError(f"search.{key}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc) if str(exc).startswith("search.") else f"{where}: {exc}"
                              ) from None


def open_study(cfg: StudyConfig, storage: Storage, data: PreparedData,
               plan: StudyPlan | None = None) -> optuna.Study:
    """Create the study, or load it when it exists and was run with compatible settings; its
    pruner is sized by the study's ``plan`` (made from ``cfg`` and ``data`` if not given)."""
    from automl.storage.studies import check_resumable, find_study

    plan = plan or make_plan(cfg, data.splits, data.column_specs(), data.preprocessing)
    name = cfg.study.name
    prior = find_study(storage, name)
    if prior is not None:
        check_resumable(prior, storage.masked_url, directions=cfg.directions,
                        objective=cfg.study.objective, cost=cfg.study.cost,
                        data_hash=data.data_hash, adopt=cfg.study.adopt,
                        metric=cfg.study.metric)
    stored: dict[str, Any] = prior.config if prior is not None else {}
    n_prior = prior.n_trials if prior is not None else 0
    # The project's row first: a study row is what marks an Optuna study as ours, so a crash
    # between the two writes leaves a study the next run resumes, not one it must refuse.
    scale = "log10" if prior is None or stored.get(COST_SCALE) == "log10" else "raw"
    config = cfg.to_dict()
    config[COST_SCALE] = scale
    config["_data_hash"] = data.data_hash
    config["_classes"] = data.classes
    config["study"]["storage"] = storage.masked_url
    storage.save_study(name, cfg.study.objective, cfg.study.cost, config, environment())
    study = storage.create_study(
        name,
        directions=cfg.directions,  # validated strings
        sampler=_sampler(cfg, cfg.study.seed + n_prior),
        pruner=make_pruner(cfg.study.pruner, cfg.study.objective, plan.epochs, plan.first_rung),
        load_if_exists=True,
    )
    # Costs span orders of magnitude (a 10K-FLOP MLP beside a 10M-FLOP CNN): the sampler is
    # told log10(cost), so the accurate, expensive end of the front weighs as much as the
    # cheap end. A study created before this keeps its raw scale.
    study.set_metric_names(["val_accuracy"] if len(cfg.directions) == 1 else [
        "val_accuracy", f"log10_{cfg.study.cost}" if scale == "log10" else cfg.study.cost])
    return study


COST_SCALE = "_cost_scale"  # stored config key: how the cost objective is told to Optuna
SMALL_SAMPLE = 4096  # values per sample below which one CPU thread trains fastest


def with_threads(cfg: StudyConfig, data: PreparedData) -> StudyConfig:
    """``trainer.num_threads`` unset on the CPU: one thread for samples of at most
    ``SMALL_SAMPLE`` values. Their ops are too small to split, and two OpenMP threads on a
    2-core machine train them about 2x slower than one (measured in benchmarks/RESULTS.md)."""
    import math

    t = cfg.trainer
    if t.num_threads or t.device == "cuda" or math.prod(data.splits.input_shape) > SMALL_SAMPLE:
        return cfg
    if t.device == "auto":
        import torch

        if torch.cuda.is_available():
            return cfg
    return dataclasses.replace(cfg, trainer=dataclasses.replace(t, num_threads=1))


def fingerprint(cfg: StudyConfig) -> str:
    """Same config, same run: what lets "the same command again" resume instead of add.
    ``study.trials`` is left out: it is the run's goal, which a later command may raise."""
    d = cfg.to_dict()
    for key in ("trials", "workers", "timeout", "heartbeat_interval", "grace_period"):
        d["study"].pop(key, None)  # how a run is executed, not what it searches
    d.pop("cluster", None)  # where the workers run (a launcher's jobs join the same run)
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def run_search(
    cfg: StudyConfig,
    storage: Storage,
    data: PreparedData,
    *,
    reporter: Reporter | None = None,
    callbacks: list[TrialCallback] | None = None,
    started: float | None = None,
    checked: bool = False,
    plan: StudyPlan | None = None,
    train: TrainFn | None = None,
    clock: Callable[[], float] | None = None,
) -> SearchOutcome:
    """Add ``cfg.study.trials`` finished trials (none: 20, or as many as fit in a timeout) to
    the study (or resume the unfinished run of the same config). ``cfg.study.timeout`` bounds
    the whole search, counted from ``started`` (a ``time.monotonic()`` reading; default: now):
    running candidates stop at the deadline (see :mod:`automl.policy.budget`). Safe to run in
    several workers. ``checked``: the caller has already run
    :func:`automl.control.run.prepare`'s checks (they cost a second or two);
    ``plan``: the study's plan, if the caller made it (:func:`automl.policy.plan.make_plan`).
    ``train`` (default :func:`trainer.train`) and ``clock`` (default ``time.monotonic``) are
    for tests: they run the search's decisions in-process without training or waiting."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the CLI reports trials itself
    # group=True and metric names are stable in practice; their warnings only add noise.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    plan = plan or make_plan(cfg, data.splits, data.column_specs(), data.preprocessing)
    if not checked:  # the CLI and automl.search check before opening storage
        check_spaces(cfg)
        check_reachable(cfg, plan.info)
    # The run is keyed by what the user asked for, before defaults resolved from the data.
    asked = fingerprint(cfg)
    cfg = with_threads(cfg, data)
    if cfg.trainer.num_threads:
        import torch

        # The whole search process, cost measurement included, runs with the configured
        # intra-op threads: measuring latency with more would leave an OpenMP pool spinning on
        # the cores that single-threaded training then competes with.
        torch.set_num_threads(cfg.trainer.num_threads)
    with interrupts.deferring():  # a signal now is raised at the loop's first safe point
        return _search(cfg, storage, data, plan, asked, reporter, callbacks,
                       Deadline.starting(cfg.study.timeout, started, clock or time.monotonic),
                       train)


def _search(cfg: StudyConfig, storage: Storage, data: PreparedData, plan: StudyPlan,
            asked: str, reporter: Reporter | None, callbacks: list[TrialCallback] | None,
            deadline: Deadline, train: TrainFn | None) -> SearchOutcome:
    from automl.control.cheap_start import StrongStarts, queue_starts
    from automl.control.loop import WORKER, finished_in_study, optimize
    from automl.control.loss_probes import LossProbes
    from automl.control.refit import RefitReserve
    from automl.storage.runs import lease, start_or_resume

    later: list[dict[str, Any]] = []  # strong starts queued one at a time (a timeout)
    with lease(storage, f"study:{cfg.study.name}"):
        study = open_study(cfg, storage, data, plan)
        log_cost = storage.study_config(cfg.study.name).get(COST_SCALE) == "log10"
        objective = Objective(cfg, data, storage, reporter, deadline, plan=plan,
                              log_cost=log_cost, train=train)
        done_now = finished_in_study(study.get_trials(deepcopy=False))
        run = start_or_resume(storage, cfg.study.name, asked,
                              trial_goal(cfg.study.trials, cfg.study.timeout), done_now)
        if run.resumed:
            # Another worker (or an interrupted earlier process) started this run: a seed of
            # this worker's own keeps concurrent workers from proposing the same candidates.
            salt = int(hashlib.sha256(WORKER.encode()).hexdigest()[:6], 16)
            n_now = len(study.get_trials(deepcopy=False))
            study.sampler = _sampler(cfg, cfg.study.seed + n_now + salt)
        else:
            later = queue_starts(study, cfg, plan, run.requested)
    on_tally = getattr(reporter, "run_progress", None)
    probes = LossProbes(cfg, run, deadline, storage)  # once the first trials completed
    reserve = RefitReserve(cfg, storage, deadline, plan.n_train, plan.n_val)
    strong = StrongStarts(later, run, deadline, storage)  # with a timeout: one at a time
    ran = optimize(
        study, objective, storage, run, deadline=deadline,
        callbacks=[strong, probes, reserve, *(callbacks or [])],
        on_tally=on_tally, on_interrupt=objective.interrupted,
    )
    states: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return SearchOutcome(cfg.study.name, storage.masked_url, ran, states, run.resumed)
