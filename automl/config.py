"""Study configuration: a TOML file + CLI overrides -> one frozen :class:`StudyConfig`.

Precedence (lowest to highest): dataclass defaults, the study file, CLI flags, ``--set key=value``.
Merging happens once, here, at the entry point; everything downstream receives the frozen
result, and its :meth:`StudyConfig.to_dict` is stored with the study.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl._validate import build
from automl.cluster.settings import ClusterSection
from automl.control.samplers import PRUNERS, SAMPLERS
from automl.errors import ConfigError
from automl.names import study_name_problem
from trainer.metrics import METRICS
from trainer.settings import COUNT_MAX, SECONDS_MAX, SEED_MAX, Ref, setting
from trainer.types import TrainConfig

# Each objective and the Optuna directions of its values (accuracy, then the cost if any).
OBJECTIVES = {"pareto": ("maximize", "minimize"), "val_accuracy": ("maximize",)}
# The costs a Pareto search can minimize, with the words people read for them (the dashboard's).
COSTS: dict[str, str] = {
    "flops": "FLOPs",
    "params": "parameters",
    "latency_ms": "latency (ms)",
    "peak_memory_mb": "peak memory (MB)",
}
# The cost a study ranks by when none is named (its config's default, the leaderboard's, the
# export's and the dashboard's): declared once here, so no caller can fall back to another.
DEFAULT_COST = "flops"


def cost_or_default(cost: str | None) -> str:
    """``cost``, or :data:`DEFAULT_COST` where it is missing (None or empty): the one fallback
    every reader of a stored or given cost applies."""
    return cost or DEFAULT_COST


def cost_known_among(cost: str | None, known: tuple[str, ...]) -> str:
    """``cost`` where it is one of ``known`` (the costs measured at some point, e.g. before
    training), else :data:`DEFAULT_COST`: the stand-in wherever the study's cost cannot be
    read yet (the cheap start, the rung standings)."""
    return cost if cost in known else DEFAULT_COST


CHEAP_STARTS = {"auto": "with a timeout", "always": "always", "never": "never"}


@dataclass(frozen=True)
class StudySection:
    name: str = setting("automl-study", help="the study's name in the database")
    storage: str | None = setting(None, help="SQLAlchemy URL; none: sqlite:///automl.db "
                                  "(or $AUTOML_STORAGE)")
    artifacts: str | None = setting(None, help="folder for weights; none: next to the SQLite "
                                    "file")
    trials: int | None = setting(None, lo=1, hi=COUNT_MAX, help="trials to add in this run; "
                                 "none: 20, or as many as fit with a timeout")
    timeout: float | None = setting(None, lo=0, hi=SECONDS_MAX, lo_open=True,
                                    help="seconds for this run; none: no limit")
    sampler: str = setting("tpe", choices=SAMPLERS, help="Optuna sampler (cmaes: "
                           "single-objective)")
    seed: int = setting(0, lo=0, hi=SEED_MAX, help="seed of the sampler and the trials")
    objective: str = setting("pareto", choices=OBJECTIVES, help="pareto: max val_accuracy, "
                             "min cost; val_accuracy: single objective")
    cost: str = setting(DEFAULT_COST, choices=COSTS, help="the cost a Pareto search minimizes")
    metric: str = setting("accuracy", choices=METRICS, help="the validation figure that ranks, "
                          "prunes and selects, and the test figure: balanced_accuracy or "
                          "macro_f1 for imbalanced classes")
    pruner: str = setting("asha", choices=PRUNERS, help="asha: Pareto-aware successive "
                          "halving in a Pareto study, Optuna's ASHA in a single-objective one; "
                          "hyperband, median: single-objective only")
    workers: int = setting(1, lo=1, hi=64, help="worker processes sharing the study")
    # A worker that stops sending heartbeats for grace_period seconds is presumed dead: its
    # trial is failed and its candidate re-queued. 0 disables heartbeats.
    heartbeat_interval: int = setting(10, lo=0, hi=3600, help="seconds between a worker's "
                                      "heartbeats; 0: none")
    grace_period: int = setting(30, lo=1, hi=86400, help="seconds without a heartbeat before "
                                "a trial is presumed dead")
    adopt: bool = setting(False, help="search an existing study another Optuna tool created")


@dataclass(frozen=True)
class DataSection:
    source: str = setting("digits", help="digits, PATH.npz, PATH.csv, PATH.parquet or "
                          "python:module:function")
    val_fraction: float = setting(0.15, lo=0.01, hi=0.9, help="share held out for validation")
    test_fraction: float = setting(0.15, lo=0.0, hi=0.9, help="share held out for the test; "
                                   "ignored when the source has x_test / y_test")
    standardize: bool = setting(True, help="scale features to zero mean, unit variance")
    label: str | None = setting(None, help="a table's label column; none: 'label', else the "
                                "last column")
    categorical: tuple[str, ...] = setting((), help="table columns read as categories (integer "
                                           "codes, or text that looks like free text)")
    ignore: tuple[str, ...] = setting((), help="table columns left out (ids, free text)")

    def table(self) -> Any:
        """The table reader's options (automl.data.table.TableOptions)."""
        from automl.data.table import TableOptions

        return TableOptions(self.label, tuple(self.categorical), tuple(self.ignore))


@dataclass(frozen=True)
class SearchSection:
    arch: str = setting("auto", registry=Ref("search_spaces", "ARCH_SPACES"),
                        help="architecture space; auto: every family that fits the data")
    loss: str = setting("searched", registry=Ref("search_spaces", "LOSS_SPACES"),
                        help="loss space")
    hparams: str = setting("default", registry=Ref("search_spaces", "HPARAM_SPACES"),
                           help="hyperparameter space")
    adapt_epochs: bool = setting(True, help="scale each candidate's epochs to the data and the "
                                 "timeout (automl/policy/budget.py); false: exactly "
                                 "trainer.epochs")
    cross_validate: bool = setting(True, help="on small data, cross-validate the contenders "
                                   "(automl/policy/crossval.py)")
    cheap_start: str = setting("auto", choices=CHEAP_STARTS, help="a new Pareto search first "
                               "trains the cheapest candidate of each family (automl/"
                               "control/cheap_start.py); auto: when it has a timeout")
    family_start: bool = setting(True, help="first train each family's strong default")
    family_race: bool = setting(True, help="stop proposing a family that trails beyond noise")
    refit: bool = setting(True, help="refit a closed-form best on train + val (control/refit.py)")
    loss_probes: bool = setting(True, help="once 3 trials completed, train the best again with "
                                "a noise-robust and a long-tail loss (control/loss_probes.py)")
    arch_options: dict[str, Any] = setting(factory=dict, help="options of the arch space")
    loss_options: dict[str, Any] = setting(factory=dict, help="options of the loss space")
    hparam_options: dict[str, Any] = setting(factory=dict, help="options of the hparam space")


@dataclass(frozen=True)
class LimitsSection:
    """Candidates over any limit are pruned before training, at the cost of a meta-device build."""

    max_params: int | None = setting(None, lo=0, help="most parameters a candidate may have")
    max_flops: int | None = setting(None, lo=0, help="most FLOPs of one forward pass")
    max_latency_ms: float | None = setting(None, lo=0, help="most CPU latency of one sample (ms)")
    max_memory_mb: float | None = setting(None, lo=0, help="most peak training memory (MB)")


@dataclass(frozen=True)
class StudyConfig:
    """One table per section; :func:`from_dict` builds each from its dataclass's declarations."""

    study: StudySection = field(default_factory=StudySection)
    data: DataSection = field(default_factory=DataSection)
    search: SearchSection = field(default_factory=SearchSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    trainer: TrainConfig = field(default_factory=TrainConfig)
    cluster: ClusterSection = field(default_factory=ClusterSection)  # where workers run

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def directions(self) -> list[str]:
        return list(OBJECTIVES[self.study.objective])


# Section name -> its dataclass, in the order of the study file.
SECTIONS: dict[str, type] = typing.get_type_hints(StudyConfig)


def from_dict(data: Mapping[str, Any]) -> StudyConfig:
    """Validate a nested dict (a parsed study file) into a :class:`StudyConfig`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"study config: expected a table, got {data!r}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; allowed: {', '.join(SECTIONS)}")
    cfg = StudyConfig(**{name: build(cls, data.get(name, {}), name)
                         for name, cls in SECTIONS.items()})
    _check_consistency(cfg)
    # The trainer measures in the study's metric: one setting, study.metric, decides both.
    return dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer,
                                                                metric=cfg.study.metric))


def _check_consistency(cfg: StudyConfig) -> None:
    """Options that are valid alone but contradict each other."""
    problem = study_name_problem(cfg.study.name)
    if problem:
        name = cfg.study.name
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise ConfigError(f"study.name: {shown} {problem}")
    sampler = cfg.study.sampler
    if not SAMPLERS[sampler].multi_objective and len(cfg.directions) > 1:
        raise ConfigError(f"study.sampler: {sampler!r} is single-objective; "
                          "set study.objective = 'val_accuracy'")
    if cfg.data.val_fraction + cfg.data.test_fraction >= 0.95:
        raise ConfigError("data.val_fraction + data.test_fraction: must leave data to train on")
    if cfg.trainer.latency_repeats < 1:  # 0 is the trainer's "skip it"; a search times all
        raise ConfigError(f"trainer.latency_repeats: {cfg.trainer.latency_repeats} is out of "
                          "range; a search times every candidate, so it must be >= 1")
    if cfg.trainer.metric not in ("accuracy", cfg.study.metric):
        raise ConfigError(f"trainer.metric: a search measures in study.metric; set that to "
                          f"{cfg.trainer.metric!r} instead")
    if cfg.trainer.precision == "fp16" and cfg.trainer.device == "cpu":
        raise ConfigError("trainer.precision: 'fp16' needs CUDA; use 'bf16' on the CPU")
    hb = cfg.study.heartbeat_interval
    if hb and cfg.study.grace_period <= hb:
        raise ConfigError(
            f"study.grace_period: must exceed study.heartbeat_interval ({hb} s), "
            f"got {cfg.study.grace_period}"
        )


# A study file is a few hundred bytes; anything this large is the wrong file (or /dev/zero).
STUDY_FILE_MAX_BYTES = 1 << 20


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a study file; a missing, binary, huge or malformed file is a one-line ConfigError."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(STUDY_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: study file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a .toml study file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ConfigError(f"{p}: cannot read study file: {getattr(exc, 'strerror', exc)}"
                          ) from None
    if len(raw) > STUDY_FILE_MAX_BYTES:
        raise ConfigError(f"{p}: study file is over {STUDY_FILE_MAX_BYTES >> 20} MiB; "
                          "expected a small .toml file")
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))  # a Windows editor's byte-order mark
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a UTF-8 text file (byte {exc.start}); expected TOML"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{p}: malformed TOML: arrays or tables nested too deeply") from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"trainer.epochs=5"`` -> (["trainer", "epochs"], 5). Values are TOML literals;
    anything that is not a TOML literal is taken as a plain string (``study.name=my run``)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. trainer.epochs=5")
    path = key.split(".")
    if len(path) < 2 or not all(path):
        raise ConfigError(f"--set {key}: expected section.key, e.g. trainer.epochs")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return path, value


def merge(base: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """Return a copy of ``base`` with ``value`` set at ``path`` (nested tables created)."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    node: dict[str, Any] = out
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is not None and not isinstance(child, Mapping):
            # A flag must not silently replace a study file's `study = 5` with a table.
            raise ConfigError(f"{'.'.join(path[:i + 1])}: expected a table, got {child!r:.40}")
        child = dict(child) if isinstance(child, Mapping) else {}
        node[part] = child
        node = child
    node[path[-1]] = value
    return out


def load(
    path: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> StudyConfig:
    """The entry point: file, then CLI flags (``{"study.trials": 5}``; None = not given),
    then ``--set`` overrides, validated once."""
    data: dict[str, Any] = read_toml(path) if path else {}
    for dotted, value in (flags or {}).items():
        if value is not None:
            data = merge(data, dotted.split("."), value)
    for item in overrides:
        keys, value = parse_override(item)
        data = merge(data, keys, value)
    cfg = from_dict(data)
    source = cfg.data.source
    if source.endswith((".npz", ".csv", ".parquet")) and not Path(source).is_absolute():
        # Stored absolute, so export / retrain / resume work from any working directory.
        cfg = dataclasses.replace(
            cfg, data=dataclasses.replace(cfg.data, source=str(Path(source).resolve()))
        )
    return cfg
