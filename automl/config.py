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

from automl._validate import build
from automl.errors import ConfigError
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def directions(self) -> list[str]:
        if self.study.objective == "val_accuracy":
            return ["maximize"]
        return ["maximize", "minimize"]


_SECTIONS: dict[str, tuple[type, dict[str, tuple[Any, ...]], dict[str, tuple[Any, Any]]]] = {
    "study": (
        StudySection,
        {"sampler": SAMPLERS, "objective": OBJECTIVES, "cost": COSTS, "pruner": PRUNERS},
        {"trials": (0, None), "timeout": (0, None), "workers": (1, 64),
         "heartbeat_interval": (0, 3600), "grace_period": (1, 86400)},
    ),
    "data": (
        DataSection,
        {},
        {"val_fraction": (0.01, 0.9), "test_fraction": (0.0, 0.9)},
    ),
    "search": (SearchSection, {}, {}),
    "limits": (
        LimitsSection,
        {},
        {k: (0, None) for k in ("max_params", "max_flops", "max_latency_ms", "max_memory_mb")},
    ),
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
            "epochs": (1, None),
            "batch_size": (1, None),
            "lr": (0, None),
            "weight_decay": (0, None),
            "num_threads": (1, None),
            "eval_batch_size": (1, None),
            "latency_repeats": (1, None),
            "nproc": (1, None),
            "grad_accum": (1, None),
            "bucket_cap_mb": (0, None),
            "powersgd_rank": (1, None),
            "powersgd_start_iter": (1, None),
            "timeout": (1, None),
            "trial_timeout": (0, None),
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


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a study file; a missing or malformed file is a one-line ConfigError."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: study file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a .toml study file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read study file: {exc.strerror}") from None


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
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def merge(base: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """Return a copy of ``base`` with ``value`` set at ``path`` (nested tables created)."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    node: dict[str, Any] = out
    for part in path[:-1]:
        child = node.get(part)
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
