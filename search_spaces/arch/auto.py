"""The ``auto`` space: every family that can take the input, as one searched choice.

A sample shape alone does not say what the data is: ``(D,)`` is as often a signal as a row of
a table, ``(A, B)`` as often A channels of a sequence as a grayscale image. So ``auto`` offers
every family that can read the shape and lets the sampler learn which one wins:

* ``(D,)`` -> ``mlp``, and ``cnn1d`` and ``rocket`` over the D features as one signal;
* ``(A, B)`` -> ``cnn1d`` over A channels of length B, ``cnn2d`` over an A x B image, ``mlp``,
  ``rocket`` over the A channels;
* ``(C, H, W)`` -> ``cnn2d`` and ``mlp``.

The choice is the trial parameter ``family``; each family's parameters are asked under its own
prefix (``cnn1d.n_stages``), so the sub-spaces are conditional and never share a name with
another family's differently bounded parameter. Each family's bounds are scaled to the data
(:func:`scaled_conv_options`, :func:`scaled_mlp_options`); name a family's space directly
(``search.arch = "cnn1d"``) to set its bounds by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search_spaces._fields import as_choices, choices_of, ints_from, set_field
from search_spaces.arch.conv import ConvOptions, sample_convnet
from search_spaces.arch.deep import max_downsamples
from search_spaces.arch.mlp import MLPOptions, mlp_space
from search_spaces.arch.rocket import rocket_space
from search_spaces.arch.specs import ArchSpec
from search_spaces.base import ARCH_SPACES, InputInfo, TrialLike

FAMILIES = ("mlp", "cnn1d", "cnn2d", "rocket")
_BY_NDIM = {1: ("mlp", "cnn1d", "rocket"), 2: ("cnn1d", "cnn2d", "mlp", "rocket"),
            3: ("cnn2d", "mlp")}


# Mean lag-1 autocorrelation of the standardized training samples at which they look like
# signals (GunPoint 0.98, ItalyPowerDemand 0.69, BasicMotions 0.53; flattened digits 0.26, breast
# cancer 0.15, wine -0.06). It only orders the first candidates (:func:`start_order`): no
# statistic of the inputs removes a family, since real data breaks any such rule (an AC power
# trace alternates in sign at each step, lag-1 -0.2, and is still a signal).
SIGNAL_LAG1 = 0.4


def auto_families(info: InputInfo) -> tuple[str, ...]:
    """Every family that can read samples of shape ``info.shape`` (what ``auto`` may search)."""
    try:
        return _BY_NDIM[len(info.shape)]
    except KeyError:
        raise ValueError(
            f"auto: no architecture family for a {len(info.shape)}-dim sample shape "
            f"{info.shape}; use 1 (vectors or signals), 2 (sequences or images) or 3 (images) "
            "dims"
        ) from None


def default_families(info: InputInfo) -> tuple[str, ...]:
    """What ``auto`` searches when ``families`` is not given: every family that fits. Which of
    them earn the budget is measured during the search (``automl/policy/families.py``)."""
    return auto_families(info)


def start_order(info: InputInfo, families: Sequence[str]) -> tuple[str, ...]:
    """``families`` in the order their first candidates are tried: the sequence families first
    when the samples look ordered along their last axis (``info.lag1`` >= ``SIGNAL_LAG1``), the
    others first otherwise. An order only: every family is tried."""
    signal = ("rocket", "cnn1d")
    first = info.lag1 is None or info.lag1 >= SIGNAL_LAG1
    return tuple(sorted(families, key=lambda f: (f in signal) != first))


def _near(target: int) -> Any:
    return lambda choices: min(choices, key=lambda c: (abs(c - target), c))


# Each family's strong default: what a practitioner of its field trains first, as picks of its
# own parameters (a value, or a rule over the values the options offer). What is not named is
# the middle of its range (search_spaces.probe.MiddleTrial). rocket: MiniRocket's size (about
# 10,000 features) with its ridge head, which the trainer scores as epoch 0; mlp: two layers of
# about 256 with batch norm, as the most members offered (an efficient ensemble, TabM-mini);
# the convnets: the middle of their space, halving the input after the first stage.
STRONG_PICKS: dict[str, dict[str, Any]] = {
    "rocket": {"n_features": max, "norm": "none", "dropout": 0.0},
    "mlp": {"n_layers": 2, "l0_width": _near(256), "l1_width": _near(256), "activation": "relu",
            "norm": "batch", "members": max},
    **{conv: {f"s{i}_down": True for i in range(1, 4)} for conv in ("cnn1d", "cnn2d")},
}


def strong_picks(family: str) -> dict[str, Any]:
    """The picks of ``family``'s strong default candidate (see :data:`STRONG_PICKS`)."""
    return dict(STRONG_PICKS.get(family, {}))


def auto_family(info: InputInfo) -> str:
    """The first (most likely) family for ``info``; kept for callers that need just one."""
    return auto_families(info)[0]


@dataclass(frozen=True)
class AutoOptions:
    """``families``: the families to search, of those that fit the data (default: every one
    that fits: :func:`default_families`). ``mlp_members``: the MLP's member counts
    (``MLPOptions.members``: 1 only by default; e.g. ``(1, 16)`` adds efficient ensembles)."""

    families: tuple[str, ...] | None = None
    mlp_members: tuple[int, ...] = MLPOptions.members

    def __post_init__(self) -> None:
        if self.families is not None:
            set_field(self, "families", as_choices(None, "families", self.families,
                                                   choices_of(FAMILIES)))
        members = as_choices(None, "mlp_members", self.mlp_members, ints_from(1))
        set_field(self, "mlp_members", members)


class PrefixedTrial:
    """A trial whose parameter names get ``prefix.``: conditional sub-spaces stay apart."""

    def __init__(self, trial: TrialLike, prefix: str) -> None:
        self._trial = trial
        self._prefix = prefix

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._trial.suggest_int(f"{self._prefix}.{name}", low, high, step=step, log=log)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._trial.suggest_float(f"{self._prefix}.{name}", low, high, step=step, log=log)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._trial.suggest_categorical(f"{self._prefix}.{name}", choices)


def scaled_conv_options(kind: str, info: InputInfo) -> ConvOptions:
    """Conv bounds for this data: depth from the input length, width from the sample count.

    Stages may halve the input while it stays >= 4 long (a 150-step signal gets up to 4
    stages, an 8x8 image 2); with few training samples (<= 500) the widths stop at 48, since
    wider layers only memorize them.
    """
    spatial = info.shape[-1:] if kind == "cnn1d" else info.shape[-2:]
    halvings = max_downsamples(spatial, 4)
    small = info.n_train is not None and info.n_train <= 500
    return ConvOptions(
        max_stages=max(2, min(4, halvings + 1)),
        widths=(8, 16, 24, 32, 48) if small else (16, 24, 32, 48, 64),
        stem_widths=(8, 16, 24) if small else (16, 24, 32),
        min_spatial=4 if max(spatial) >= 8 else 1,
    )


def scaled_mlp_options(info: InputInfo, members: tuple[int, ...] = MLPOptions.members
                       ) -> MLPOptions:
    """MLP bounds for this data: narrower layers when samples are few or inputs are short."""
    features = math.prod(info.shape)
    small = info.n_train is not None and info.n_train <= 500
    widths = (32, 64, 128, 256) if small or features <= 32 else (64, 128, 256, 512)
    return MLPOptions(widths=widths, members=members)


@ARCH_SPACES.register("auto", options=AutoOptions)
def auto_space(trial: TrialLike, info: InputInfo, options: AutoOptions | None = None
               ) -> ArchSpec:
    """Choose a family (trial parameter ``family``), then sample it under its prefix."""
    o = options or AutoOptions()
    allowed = o.families
    if allowed is None:
        families = default_families(info)
    else:
        families = tuple(f for f in auto_families(info) if f in allowed)
    if not families:
        raise ValueError(
            f"search.arch_options.families: none of {list(allowed or ())} can take samples of "
            f"shape {info.shape}; these can: {', '.join(auto_families(info))}"
        )
    family = trial.suggest_categorical("family", families) if len(families) > 1 else families[0]
    sub = PrefixedTrial(trial, family)
    if family == "mlp":
        return mlp_space(sub, info, scaled_mlp_options(info, o.mlp_members))
    if family == "rocket":
        return rocket_space(sub, info)
    return sample_convnet(family, sub, info, scaled_conv_options(family, info))
