"""The Python API: what every ``automl`` command calls, for notebooks and scripts.

    from automl import api

    result = api.search(data="digits", study="demo", trials=4, epochs=2)
    rows = api.leaderboard("demo", top=5)  # also automl.leaderboard(...)
    api.export("demo", "model/")

Every function returns plain results (dataclasses, dicts, lists) and prints nothing unless asked
(``progress=True``); every user-facing problem is an :class:`~automl.errors.AutomlError`. The
read functions open the database read-only. ``storage`` is a SQLAlchemy URL (default:
``$AUTOML_STORAGE``, else ``sqlite:///automl.db``) or an open :class:`~automl.storage.Storage`,
which is then left open. Importing this module is cheap: torch and optuna load on first use.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import ConfigError

if TYPE_CHECKING:
    from automl.config import StudyConfig
    from automl.export.exporter import ExportReport
    from automl.storage import Storage, StudySummary, TrialRecord

# Trial numbers are stored as SQLite / PostgreSQL 64-bit integers.
TRIAL_NUMBER_MAX = 2**63 - 1
# search() keyword -> config key (the CLI flag of the same name sets the same key).
SEARCH_KEYS = {
    "data": "data.source", "study": "study.name", "storage": "study.storage",
    "trials": "study.trials", "timeout": "study.timeout", "epochs": "trainer.epochs",
    "sampler": "study.sampler", "seed": "study.seed", "nproc_per_trial": "trainer.nproc",
    "workers": "study.workers", "launcher": "cluster.launcher",
    "gpus_per_worker": "cluster.gpus_per_worker", "cpus_per_worker": "cluster.cpus_per_worker",
    "ray_address": "cluster.ray_address",
}


@dataclass(frozen=True)
class StudyResult:
    """What :func:`search` did, and where the study stands now."""

    study: str
    storage: str  # the URL, password masked
    trials_run: int  # trials this search finished (all its workers together)
    requested: int  # study.trials: the run's goal
    states: dict[str, int]  # every trial of the study, by state
    resumed: bool  # this search continued an unfinished run of the same config
    cost: str | None  # what the study minimizes beside accuracy (None: accuracy alone)
    leaderboard: list[dict[str, Any]] = field(default_factory=list)  # best rows first
    best: TrialRecord | None = None  # what `export --trial best` takes; None: none completed
    # each architecture family's standing in the race (automl/policy/families.py)
    families: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pareto(self) -> list[dict[str, Any]]:
        """The leaderboard rows on the Pareto front of (val accuracy, cost)."""
        return [r for r in self.leaderboard if r["pareto"]]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["best"] = self.best.to_dict() if self.best is not None else None
        return d


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (), *,
                flags: Mapping[str, Any] | None = None) -> StudyConfig:
    """A study file (TOML) with ``flags`` (``{"study.trials": 5}``; None: not given) and then
    ``key=value`` ``overrides`` applied, validated once. Raises ConfigError."""
    from automl import config

    return config.load(path, flags, overrides)


def _config(config: str | Path | StudyConfig | None, flags: Mapping[str, Any],
            overrides: Iterable[str]) -> StudyConfig:
    from automl import config as config_mod

    if not isinstance(config, config_mod.StudyConfig):
        return config_mod.load(config, flags, overrides)
    # A config object: its settings as the lowest flags, loaded (and validated) the same way.
    given = {f"{section}.{key}": value for section, keys in config.to_dict().items()
             for key, value in keys.items()}
    given.update((k, v) for k, v in flags.items() if v is not None)
    return config_mod.load(None, given, overrides)


def search(config: str | Path | StudyConfig | None = None, *, data: str | None = None,
           study: str | None = None, storage: str | None = None, trials: int | None = None,
           timeout: float | None = None, epochs: int | None = None,
           sampler: str | None = None, seed: int | None = None,
           nproc_per_trial: int | None = None, workers: int | None = None,
           launcher: str | None = None, gpus_per_worker: int | None = None,
           cpus_per_worker: int | None = None, ray_address: str | None = None,
           overrides: Iterable[str] = (), progress: bool = False, top: int | None = 10,
           started: float | None = None, argv: Sequence[str] | None = None) -> StudyResult:
    """Run a search (or add trials to an existing study) and return its result.

    ``config``: a study file, a :class:`~automl.config.StudyConfig`, or None (defaults); the
    keywords and then ``overrides`` (``"trainer.lr=0.01"``) go over it, as the CLI's flags and
    ``--set`` do. ``epochs`` fixes the epochs per trial (no adaptation). ``timeout`` bounds the
    whole search, counted from ``started`` (a ``time.monotonic()`` reading; default: this
    call). ``progress``: print the start line and a live progress display. ``top``: leaderboard
    rows in the result (None: all; 0: none, and the study is not read back). ``argv``: the
    ``automl`` arguments extra workers run (default: built from the config).

    Checks the config, that a database server answers, the search spaces and the data before
    the database is written. Ctrl-C stops the running trial, queues its candidate again and
    raises KeyboardInterrupt.
    """
    from automl.cluster.argv import search_argv
    from automl.config import cost_or_default
    from automl.control import run as searching
    from automl.policy.budget import trial_goal

    started = time.monotonic() if started is None else started
    given = dict(data=data, study=study, storage=storage, trials=trials, timeout=timeout,
                 epochs=epochs, sampler=sampler, seed=seed, nproc_per_trial=nproc_per_trial,
                 workers=workers, launcher=launcher, gpus_per_worker=gpus_per_worker,
                 cpus_per_worker=cpus_per_worker, ray_address=ray_address)
    flags = {SEARCH_KEYS[k]: v for k, v in given.items()}
    flags["search.adapt_epochs"] = False if epochs is not None else None
    cfg = _config(config, flags, overrides)
    searching.reach_server(cfg)
    prepared, plan = searching.prepare(cfg)
    store = searching.open_for(cfg)
    try:
        say = searching.console_say() if progress else None
        if say is not None:
            say(searching.banner(cfg, store, prepared))
        outcome = searching.execute(cfg, store, prepared, started=started,
                                    argv=search_argv(cfg) if argv is None else argv, say=say,
                                    plan=plan)
        cost = searching.objective_cost(cfg)
        rows: list[dict[str, Any]] = []
        best, families = None, {}
        if top != 0:
            records = store.trials(cfg.study.name, with_epochs=True)
            rows, best = searching.report(records, cost_or_default(cost), cfg.study.name, top)
            families = searching.family_race(records, cost_or_default(cost), cost is not None)
        goal = trial_goal(cfg.study.trials, cfg.study.timeout)
        return StudyResult(outcome.study, outcome.storage_url, outcome.trials_run,
                           goal, dict(outcome.states), outcome.resumed, cost,
                           rows, best, families)
    finally:
        store.close()


@contextlib.contextmanager
def _reading(storage: str | Storage | None) -> Iterator[Storage]:
    """``storage`` opened read-only (and closed after), or the open handle given."""
    from automl.storage import Storage, open_storage

    if isinstance(storage, Storage):
        yield storage
        return
    store = open_storage(storage, create=False, readonly=True)
    try:
        yield store
    finally:
        store.close()


def studies(storage: str | Storage | None = None) -> list[StudySummary]:
    """Every study in the database, oldest first, with its trial counts and best accuracy."""
    with _reading(storage) as store:
        return store.list_studies()


def study_config(study: str, storage: str | Storage | None = None) -> dict[str, Any]:
    """The config a study was run with, as stored with it (``config["study"]["cost"]`` ...)."""
    with _reading(storage) as store:
        return store.study_config(study)


def trials(study: str, storage: str | Storage | None = None, *, with_epochs: bool = False
           ) -> list[TrialRecord]:
    """Every trial of ``study`` in trial-number order (``with_epochs``: with its curves)."""
    with _reading(storage) as store:
        return store.trials(study, with_epochs=with_epochs)


def trial(study: str, number: int, storage: str | Storage | None = None) -> TrialRecord:
    """Everything stored about one trial: specs, loss formula, costs, epochs, config."""
    if not 0 <= number <= TRIAL_NUMBER_MAX:  # beyond it, SQLite cannot even be asked
        raise ConfigError(f"trial: {number} is not a trial number; must be in "
                          f"[0, {TRIAL_NUMBER_MAX}]")
    with _reading(storage) as store:
        return store.trial(study, number)


def leaderboard(study: str, storage: str | Storage | None = None, *, top: int | None = 10,
                pareto: bool = False, cost: str | None = None) -> list[dict[str, Any]]:
    """The study's trials as rows (the keys of :data:`automl.policy.ranking.COLUMNS`): completed
    ones ranked by Pareto rank on (val accuracy, ``cost``) then accuracy, the others after
    them by number. ``cost``: default the study's own; ``pareto``: only the front; ``top``:
    the first rows (None: all)."""
    from automl.policy.ranking import leaderboard_rows as rows_of

    if top is not None and top < 1:
        raise ConfigError(f"top: must be at least 1, got {top}")
    with _reading(storage) as store:
        records = store.trials(study)
        if cost is None:
            cost = stored_cost(store.study_config(study))
    return rows_of(records, cost=cost, pareto_only=pareto, top=top)


def stored_cost(config: Mapping[str, Any]) -> str:
    """The cost a stored study config ranks by."""
    from automl.config import cost_or_default

    return str(cost_or_default(config.get("study", {}).get("cost")))


def export(study: str, out: str | Path, *, trial: str | int = "best", pareto: bool = False,
           storage: str | Storage | None = None, onnx: bool = True, pt2: bool = True,
           quantize: str | None = None, data: str | None = None) -> ExportReport:
    """Write a trial as a self-contained bundle folder ``out`` (weights, spec.json, ONNX,
    model card) and return where each bundle went with its spec.

    ``trial``: ``"best"`` (highest validation accuracy), ``"knee"`` (of the Pareto front), or
    a trial number; ``pareto``: every front member, in subfolders. ``data``: the data source to
    check the bundle on (a stored ``python:`` source runs only when passed here)."""
    from automl.export.bundle import BundleOptions
    from automl.export.exporter import export_study
    from automl.numbers import trial_choice
    from automl.storage import Storage

    url = storage.url if isinstance(storage, Storage) else storage
    choice = trial_choice(trial)  # the command line's rule: "٣" and "²" are no trial numbers
    if pareto and choice != "best":
        from automl.export.errors import ExportError

        raise ExportError(f"--trial {choice} and --pareto: --pareto exports every member of "
                          "the front; give one or the other")
    return export_study(url, study, choice, Path(out), pareto=pareto, data_source=data,
                        options=BundleOptions(onnx=onnx, quantize=quantize, pt2=pt2))
