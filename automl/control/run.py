"""How :func:`automl.api.search` runs a search, in the order that keeps bad input harmless:
config, whether a database server answers at all (read only, a second), whether the artifacts
folder can be written, search spaces, then the data and whether any candidate fits it, and only
then the database is written (and the artifacts folder made); then local
worker processes or a launcher's jobs, and the search loop itself
(:func:`automl.control.controller.run_search`) with or without a progress display.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.config import StudyConfig
    from automl.control.controller import SearchOutcome
    from automl.data import PreparedData
    from automl.policy.plan import StudyPlan
    from automl.storage import Storage

Say = Callable[[str], None]


def prepare(cfg: StudyConfig) -> tuple[PreparedData, StudyPlan]:
    """Check that the artifacts folder can be written and the spaces, load the data, plan the
    study and check that a candidate can fit the data, the cost limits and the memory: all
    before the database is touched, so bad input leaves no study behind."""
    from automl.control.controller import check_spaces
    from automl.data import load_data
    from automl.policy.limits import check_memory, check_reachable
    from automl.policy.plan import make_plan

    check_artifacts(cfg)
    check_spaces(cfg)
    d = cfg.data
    prepared = load_data(d.source, d.val_fraction, d.test_fraction, cfg.study.seed,
                         d.standardize, d.table())
    plan = make_plan(cfg, prepared.splits, prepared.column_specs(), prepared.preprocessing)
    check_reachable(cfg, plan.info)
    check_memory(cfg, plan, prepared.splits)  # some candidate must fit in memory to train
    return prepared, plan


def reach_server(cfg: StudyConfig) -> None:
    """Fail within a second (one masked line) if the study's database server cannot be reached,
    before the data and spaces checks, which take seconds; a URL that does not parse fails here
    too, SQLite's included. Reads nothing and writes nothing; a SQLite file is left to
    :func:`open_for`, which creates it."""
    from automl.storage import open_storage
    from automl.storage.urls import StorageUrl, resolve_url

    url = resolve_url(cfg.study.storage)
    if StorageUrl.parse(url).backend == "sqlite":
        return
    open_storage(url, create=False, readonly=True, schema="as-is").close()


def check_artifacts(cfg: StudyConfig) -> None:
    """Refuse, in one line and before anything trains or the database is written, an artifacts
    folder the trials could not save their weights under (a file in its place, a path under a
    file, a read-only file system, no permission): by making it, a folder and a file in it,
    then removing them (:func:`automl.storage.artifacts.check_writable`)."""
    from automl.storage.artifacts import artifacts_root, check_writable
    from automl.storage.urls import StorageUrl, resolve_url

    s = cfg.study
    url = resolve_url(s.storage)
    # A SQLite file's folder first (read only): the default artifacts folder is beside it, and
    # a missing database folder is the problem to name.
    StorageUrl.parse(url).check_file(exists=False)
    check_writable(artifacts_root(url, s.artifacts),
                   "study.artifacts" if s.artifacts else "study.artifacts (default)")


def open_for(cfg: StudyConfig) -> Storage:
    """The study's database, opened (and created) for writing, and its artifacts folder made
    (checked by :func:`check_artifacts`; made now, so that the worker processes, which check it
    too, never remove a folder they made while a trial saves its weights there)."""
    from automl.errors import StorageError
    from automl.storage import open_storage

    s = cfg.study
    store = open_storage(s.storage, artifacts=s.artifacts,
                         heartbeat_interval=s.heartbeat_interval or None,
                         grace_period=s.grace_period)
    try:
        store.artifacts_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # changed since the check
        store.close()
        raise StorageError(f"study.artifacts: {store.artifacts_root}: not writable "
                           f"({exc.strerror or exc})") from None
    return store


def objective_cost(cfg: StudyConfig) -> str | None:
    """The cost the study minimizes beside accuracy (None: accuracy alone)."""
    return cfg.study.cost if cfg.study.objective == "pareto" else None


def banner(cfg: StudyConfig, store: Storage, data: PreparedData) -> str:
    """The line a search starts with (Rich markup; names escaped), then a line for each note
    of the data split (a class kept out of validation, ...)."""
    from automl.cli.render import safe
    from automl.policy.budget import UNLIMITED_TRIALS, trial_goal

    s, cost = cfg.study, objective_cost(cfg)
    val = "val_accuracy" if s.metric == "accuracy" else f"val {s.metric}"
    goal = trial_goal(s.trials, s.timeout)
    trials = (f"trials for {s.timeout:g} s" if goal == UNLIMITED_TRIALS else f"{goal} trials")
    return (f"study [bold]{safe(s.name)}[/] in {safe(store.masked_url)}: {trials}"
            f"{f' on {s.workers} workers' if s.workers > 1 else ''}, "
            f"data {safe(cfg.data.source)} {tuple(data.splits.x_train.shape)} train, "
            f"objective {val + ' vs ' + cost if cost else val}"
            + "".join(f"\nnote: {safe(note)}" for note in data.notes))


def execute(cfg: StudyConfig, store: Storage, data: PreparedData, *, started: float,
            argv: Sequence[str], say: Say | None, plan: StudyPlan | None = None
            ) -> SearchOutcome:
    """Run the search (``data`` from :func:`prepare`, checked there) through the study's
    launcher (:func:`automl.cluster.launcher`): ``local`` runs the loop in this process with
    ``study.workers - 1`` worker processes beside it, the cluster launchers submit jobs and
    follow them. ``argv``: the ``automl`` arguments the workers run; ``say``: print for people
    (None: quiet, and no progress display)."""
    from automl.cluster import launcher
    from automl.control.controller import run_search

    def here() -> SearchOutcome:
        if say is None:
            return run_search(cfg, store, data, started=started, checked=True, plan=plan)
        from automl.cli.progress import RichReporter
        from automl.policy.budget import trial_goal

        with RichReporter(trial_goal(cfg.study.trials, cfg.study.timeout),
                          cost=objective_cost(cfg)) as reporter:
            return run_search(cfg, store, data, reporter=reporter, callbacks=[reporter],
                              started=started, checked=True, plan=plan)

    started_wall = time.time() - (time.monotonic() - started)
    launch = launcher(cfg.cluster.launcher)
    outcome: SearchOutcome = launch(cfg, store, data, list(argv), started_wall=started_wall,
                                    say=say, study_plan=plan, here=here)
    if cfg.search.refit and not os.environ.get("AUTOML_WORKER"):  # the launching process
        from automl.control.refit import refit_best
        from automl.policy.budget import Deadline

        line = refit_best(cfg, store, data, Deadline.starting(cfg.study.timeout, started))
        if line and say is not None:
            say(line)
    return outcome


def console_say() -> Say:
    """Print a line for people on stdout (Rich markup)."""
    from automl.cli.render import console

    con = console()

    def say(line: str) -> None:
        con.print(line, highlight=False)

    return say


def report(records: Sequence[Any], cost: str, study: str, top: int | None
           ) -> tuple[list[dict[str, Any]], Any]:
    """The top leaderboard rows of ``records`` and the trial ``automl export --trial best``
    takes (None while no trial has completed)."""
    from automl.export.errors import ExportError
    from automl.policy.ranking import leaderboard_rows as leaderboard
    from automl.policy.select import best_trial

    try:
        best = best_trial(records, cost, study)
    except ExportError:
        best = None
    return leaderboard(records, cost=cost, top=top), best


def family_race(records: Sequence[Any], cost: str, pareto: bool) -> dict[str, dict[str, Any]]:
    """Each family's standing in the race (``automl/policy/families.py``), as plain dicts."""
    from dataclasses import asdict

    from automl.policy.families import race_of_records

    return {f: asdict(s) for f, s in race_of_records(records, cost, pareto=pareto).items()}
