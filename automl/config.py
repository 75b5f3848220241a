"""Study configuration: a TOML file + CLI overrides -> one frozen :class:`StudyConfig`.

Precedence (lowest to highest): dataclass defaults, the study file, CLI flags, ``--set key=value``.
Merging happens once, here, at the entry point; everything downstream receives the frozen
result, and its :meth:`StudyConfig.to_dict` is stored with the study.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl._validate import Bound, build
from automl.errors import ConfigError
from automl.launchers import settings as cluster_settings
from automl.launchers.settings import ClusterSection
from automl.names import study_name_problem
from trainer.types import TrainConfig

SAMPLERS = ("tpe", "nsga2", "random", "cmaes")
OBJECTIVES = ("pareto", "val_accuracy")
COSTS = ("flops", "params", "latency_ms", "peak_memory_mb")
PRUNERS = ("asha", "hyperband", "median", "none")


@dataclass(frozen=True)
class StudySection:
    name: str = "automl-study"
    storage: str | None = None  # SQLAlchemy URL; default sqlite:///automl.db (or $AUTOML_STORAGE)
    artifacts: str | None = None  # folder for weights; default: next to the SQLite file
    trials: int = 20  # trials to add in this run
    timeout: float | None = None  # seconds for this run
    sampler: str = "tpe"
    seed: int = 0
    objective: str = "pareto"  # pareto: max val_accuracy, min cost; val_accuracy: single objective
    cost: str = "flops"
    pruner: str = "asha"  # used in single-objective mode (Optuna prunes one objective only)
    workers: int = 1  # worker processes on this machine sharing the study
    # A worker that stops sending heartbeats for grace_period seconds is presumed dead: its
    # trial is failed and its candidate re-queued. 0 disables heartbeats.
    heartbeat_interval: int = 10
    grace_period: int = 30
    # Search an existing study that another Optuna tool created (its trials count as ours).
    adopt: bool = False


@dataclass(frozen=True)
class DataSection:
    source: str = "digits"  # digits | PATH.npz | PATH.csv | python:module:function
    val_fraction: float = 0.15
    test_fraction: float = 0.15  # ignored when the source provides x_test / y_test
    standardize: bool = True


@dataclass(frozen=True)
class SearchSection:
    arch: str = "auto"
    loss: str = "searched"
    hparams: str = "default"
    # Scale each candidate's epochs to the data and the timeout (see automl/budget.py);
    # false: exactly trainer.epochs.
    adapt_epochs: bool = True
    # On small data, cross-validate the contenders (see automl/crossval.py).
    cross_validate: bool = True
    arch_options: dict[str, Any] = field(default_factory=dict)
    loss_options: dict[str, Any] = field(default_factory=dict)
    hparam_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LimitsSection:
    """Candidates over any limit are pruned before training, at the cost of a meta-device build."""

    max_params: int | None = None
    max_flops: int | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None


@dataclass(frozen=True)
class StudyConfig:
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
        if self.study.objective == "val_accuracy":
            return ["maximize"]
        return ["maximize", "minimize"]


# Upper bounds: every count must fit a 32-bit database column, every seed numpy's and Optuna's
# RNGs, every duration the timers (threading, timedelta) without overflowing.
COUNT_MAX = 2**31 - 1
SEED_MAX = 2**31 - 1  # trial seeds are study.seed + trial number: room to count up
SECONDS_MAX = 1e8  # about three years
_COUNT = Bound(1, COUNT_MAX)
_SECONDS = Bound(0, SECONDS_MAX, lo_open=True)
_SEED = Bound(0, SEED_MAX)
_NONNEG = Bound(0, None)

_SECTIONS: dict[str, tuple[type, dict[str, tuple[Any, ...]], dict[str, Bound]]] = {
    "study": (
        StudySection,
        {"sampler": SAMPLERS, "objective": OBJECTIVES, "cost": COSTS, "pruner": PRUNERS},
        {"trials": _COUNT, "timeout": _SECONDS, "seed": _SEED, "workers": Bound(1, 64),
         "heartbeat_interval": Bound(0, 3600), "grace_period": Bound(1, 86400)},
    ),
    "data": (
        DataSection,
        {},
        {"val_fraction": Bound(0.01, 0.9), "test_fraction": Bound(0.0, 0.9)},
    ),
    "search": (SearchSection, {}, {}),
    "limits": (
        LimitsSection,
        {},
        {k: _NONNEG for k in ("max_params", "max_flops", "max_latency_ms", "max_memory_mb")},
    ),
    "cluster": (ClusterSection, cluster_settings.CHOICES, cluster_settings.RANGES),
    "trainer": (
        TrainConfig,
        {
            "optimizer": ("adamw", "sgd"),
            "augment": ("none", "shift"),
            "device": ("auto", "cpu", "cuda"),
            "backend": ("auto", "gloo", "nccl"),
            "checkpointing": ("none", "blocks", "sqrt"),
            "precision": ("fp32", "bf16", "fp16"),
            "comm_hook": ("none", "fp16", "bf16", "powersgd"),
        },
        {
            "epochs": _COUNT,
            "batch_size": _COUNT,
            "lr": _NONNEG,
            "weight_decay": _NONNEG,
            "seed": _SEED,
            "num_threads": Bound(1, 1024),
            "eval_batch_size": _COUNT,
            "latency_repeats": Bound(1, 100_000),
            "nproc": Bound(1, 1024),
            "grad_accum": _COUNT,
            "bucket_cap_mb": Bound(0, 1e6),
            "powersgd_rank": _COUNT,
            "powersgd_start_iter": _COUNT,
            "timeout": Bound(1, SECONDS_MAX),
            "trial_timeout": _SECONDS,
        },
    ),
}


def from_dict(data: Mapping[str, Any]) -> StudyConfig:
    """Validate a nested dict (a parsed study file) into a :class:`StudyConfig`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"study config: expected a table, got {data!r}")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; allowed: {', '.join(_SECTIONS)}")
    sections = {
        name: build(cls, data.get(name, {}), name, choices, ranges)
        for name, (cls, choices, ranges) in _SECTIONS.items()
    }
    cfg = StudyConfig(**sections)
    _check_consistency(cfg)
    return cfg


def _check_consistency(cfg: StudyConfig) -> None:
    """Options that are valid alone but contradict each other."""
    problem = study_name_problem(cfg.study.name)
    if problem:
        name = cfg.study.name
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise ConfigError(f"study.name: {shown} {problem}")
    if cfg.study.sampler == "cmaes" and cfg.study.objective != "val_accuracy":
        raise ConfigError(
            "study.sampler: 'cmaes' is single-objective; set study.objective = 'val_accuracy'"
        )
    if cfg.data.val_fraction + cfg.data.test_fraction >= 0.95:
        raise ConfigError("data.val_fraction + data.test_fraction: must leave data to train on")
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
        return tomllib.loads(raw.decode("utf-8"))
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
    if source.endswith((".npz", ".csv")) and not Path(source).is_absolute():
        # Stored absolute, so export / retrain / resume work from any working directory.
        cfg = dataclasses.replace(
            cfg, data=dataclasses.replace(cfg.data, source=str(Path(source).resolve()))
        )
    return cfg
