"""What every space shares: the input description, the trial protocol and the three registries.

A *space* is a function ``(trial, info, options) -> Spec`` registered by name together with its
options dataclass; hyperparameter spaces take ``(trial, options)``, since they do not depend on the
data. ``options`` may be None, meaning the options dataclass's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from search_spaces.registry import Registry


@dataclass(frozen=True)
class InputInfo:
    """One sample's shape as the model receives it, and the number of classes.

    ``(D,)`` for vectors, ``(C, L)`` (or ``(L,)``) for sequences, ``(C, H, W)`` for images.
    ``n_train`` (training samples, when known) lets a space scale its default bounds to the data.
    ``lag1`` (when known): the training samples' mean lag-1 autocorrelation along the last axis
    (:func:`lag1_autocorrelation`): near 1 for smooth signals, near 0 for table columns.
    ``series_affine`` (flat ``(L,)`` samples standardized per step): ``(scale, shift)`` per step
    that give each series back as shipped, over the deviation of all its values
    (:func:`series_affine`); signal spaces put it in their specs.
    """

    shape: tuple[int, ...]
    num_classes: int
    n_train: int | None = None
    lag1: float | None = None
    columns: tuple[Any, ...] | None = None  # a coded table's ColumnSpecs (arch.table_spec)
    series_affine: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"InputInfo.shape: need positive sizes, got {self.shape!r}")
        if int(self.num_classes) < 1:
            raise ValueError(f"InputInfo.num_classes: need >= 1, got {self.num_classes!r}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "num_classes", int(self.num_classes))
        if self.n_train is not None and int(self.n_train) < 1:
            raise ValueError(f"InputInfo.n_train: need >= 1, got {self.n_train!r}")
        if self.series_affine is not None and (
                len(shape) != 1 or [len(a) for a in self.series_affine] != [shape[0]] * 2):
            raise ValueError(f"InputInfo.series_affine: need a scale and a shift per step of an "
                             f"(L,) sample, for {shape}")


def lag1_autocorrelation(x: Any, max_samples: int = 2000) -> float:
    """Mean over samples (and channels) of the lag-1 autocorrelation of each series along the
    last axis, each centred on its own mean: how much neighbouring values move together.

    ``x`` is ``(N, ..., L)``; with L < 3 there is no order to measure and 0.0 is returned.
    """
    import numpy as np

    a = np.asarray(x, dtype=np.float64)[:max_samples]
    if a.ndim < 2 or a.shape[-1] < 3:
        return 0.0
    a = a.reshape(-1, a.shape[-1])
    a = a - a.mean(axis=1, keepdims=True)
    power = (a * a).sum(axis=1)
    keep = power > 1e-12  # a constant series has no order either way
    if not keep.any():
        return 0.0
    r = (a[keep, :-1] * a[keep, 1:]).sum(axis=1) / power[keep]
    return float(r.mean())


def series_affine(stats: dict[str, Any] | None
                  ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """For flat samples standardized per feature with ``stats`` (automl's
    ``PreparedData.preprocessing``): the ``(scale, shift)`` per step that map ``(x - mean) / std``
    to ``x / s``, the series as shipped over ``s``, the std of all training values together.
    The signal networks read them centred, ``(x - m) / s`` with ``m`` the mean of all training
    values (``blocks.register_series_affine`` takes the shifts' mean, ``m / s``, off); rocket
    keeps ``x / s`` where its ridge's leave-one-out says so (``arch/rocket.py``). A signal read
    either way keeps its shape (per-step standardization cost rocket's ridge start 9 points on
    ArrowHead: see benchmarks/signal_scaling.py). None for other samples and for
    unstandardized data.
    """
    import numpy as np

    if not stats or stats.get("axis") != "feature":
        return None
    mean = np.asarray(stats["mean"], np.float64)
    std = np.asarray(stats["std"], np.float64)
    if not (mean.any() or (std != 1).any()):
        return None  # standardize = false: the series already are as shipped
    m = mean.mean()
    s = max(float(np.sqrt(max((std**2 + mean**2).mean() - m * m, 0.0))), 1e-6)
    return tuple((std / s).tolist()), tuple((mean / s).tolist())


def input_info(splits: Any, columns: tuple[Any, ...] | None = None,
               stats: dict[str, Any] | None = None) -> InputInfo:
    """The :class:`InputInfo` a search's spaces see for ``splits`` (a ``DataSplits``: its
    ``input_shape``, ``num_classes`` and training split); ``columns``: a coded table's
    ColumnSpecs, whose rows are no signal (lag1 is not measured on codes and NaNs); ``stats``:
    the standardization (``PreparedData.preprocessing``), for :func:`series_affine`."""
    if columns is not None:
        return InputInfo(splits.input_shape, splits.num_classes, n_train=len(splits.y_train),
                         lag1=0.0, columns=tuple(columns))
    affine = series_affine(stats) if len(splits.input_shape) == 1 else None
    return InputInfo(splits.input_shape, splits.num_classes, n_train=len(splits.y_train),
                     lag1=lag1_autocorrelation(splits.x_train), series_affine=affine)


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` a space uses (``FixedTrial`` satisfies it too).

    As in Optuna, ``step`` and ``log`` are keyword-only.
    """

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


ARCH_SPACES: Registry[Any] = Registry("architecture space")
LOSS_SPACES: Registry[Any] = Registry("loss space")
HPARAM_SPACES: Registry[Any] = Registry("hyperparameter space")
