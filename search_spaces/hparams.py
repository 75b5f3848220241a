"""Training hyperparameters: ``HParamSpec`` and the ``default`` space.

Hyperparameter spaces take ``(trial, options)``: they do not depend on the data. Trial
parameters of ``default``: ``optimizer``, ``lr`` (log), ``weight_decay`` (log) and
``batch_size``; a range whose ends are equal is not asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces._fields import (
    as_choice,
    as_choices,
    as_float,
    as_int,
    as_range,
    check_keys,
    choices_of,
    field_names,
    ints_from,
    set_field,
    to_jsonable,
)
from search_spaces.base import HPARAM_SPACES, TrialLike
from search_spaces.registry import FieldError

# The optimizers the trainer implements (trainer/optim.py); trainer.optimizer reads its allowed
# values from here, the lowest package that needs them.
OPTIMIZERS = ("adamw", "sgd")


@dataclass(frozen=True)
class HParamSpec:
    """How to optimize one candidate."""

    optimizer: str
    lr: float
    weight_decay: float
    batch_size: int

    def __post_init__(self) -> None:
        w = "HParamSpec"
        set_field(self, "optimizer", as_choice(w, "optimizer", self.optimizer, OPTIMIZERS))
        lr = as_float(w, "lr", self.lr, 0.0)
        if lr == 0.0:
            raise ValueError(f"{w}.lr: need > 0")
        set_field(self, "lr", lr)
        set_field(self, "weight_decay", as_float(w, "weight_decay", self.weight_decay, 0.0))
        set_field(self, "batch_size", as_int(w, "batch_size", self.batch_size, 1))

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> HParamSpec:
        check_keys("HParamSpec", d, field_names(cls), field_names(cls))
        return cls(**d)


def _positive_range(field: str, value: Any) -> tuple[float, float]:
    low, high = as_range(None, field, value, 0.0)
    if low <= 0:
        raise FieldError(field, f"a log range needs low > 0, got {low}")
    return low, high


@dataclass(frozen=True)
class HParamOptions:
    """Bounds of the ``default`` hyperparameter space (lr and weight decay are log-uniform).

    AdamW alone by default: on a search's short per-candidate budgets SGD needs a tuned
    learning rate to train at all, and every candidate it wastes is one TPE must learn from.
    Add ``"sgd"`` to ``optimizers`` to search it.
    """

    optimizers: tuple[str, ...] = ("adamw",)
    lr_range: tuple[float, float] = (3e-4, 3e-2)
    weight_decay_range: tuple[float, float] = (1e-6, 1e-2)
    batch_sizes: tuple[int, ...] = (32, 64, 128)

    def __post_init__(self) -> None:
        optimizers = as_choices(None, "optimizers", self.optimizers, choices_of(OPTIMIZERS))
        set_field(self, "optimizers", optimizers)
        set_field(self, "lr_range", _positive_range("lr_range", self.lr_range))
        wd = _positive_range("weight_decay_range", self.weight_decay_range)
        set_field(self, "weight_decay_range", wd)
        batch_sizes = as_choices(None, "batch_sizes", self.batch_sizes, ints_from(1))
        set_field(self, "batch_sizes", batch_sizes)


def _log_float(trial: TrialLike, name: str, low: float, high: float) -> float:
    return low if low == high else trial.suggest_float(name, low, high, log=True)


@HPARAM_SPACES.register("default", options=HParamOptions)
def default_hparam_space(trial: TrialLike, options: HParamOptions | None = None) -> HParamSpec:
    """Optimizer, learning rate, weight decay and batch size."""
    o = options or HParamOptions()
    return HParamSpec(
        optimizer=trial.suggest_categorical("optimizer", o.optimizers),
        lr=_log_float(trial, "lr", *o.lr_range),
        weight_decay=_log_float(trial, "weight_decay", *o.weight_decay_range),
        batch_size=trial.suggest_categorical("batch_size", o.batch_sizes),
    )


def scaled_batch_sizes(n_train: int) -> tuple[int, ...]:
    """Batch sizes for ``n_train`` training samples: powers of two within a factor of two of
    ``n_train / 16`` (about 16 steps an epoch), kept in [8, 256].

    A fixed (32, 64, 128) gives a 40-sample data set one step an epoch, too few to learn from,
    and a 50,000-sample one hundreds of tiny steps.
    """
    target = min(256.0, max(8.0, n_train / 16))
    sizes = tuple(b for b in (8, 16, 32, 64, 128, 256) if target / 2 <= b <= target * 2)
    return sizes or (8,)
