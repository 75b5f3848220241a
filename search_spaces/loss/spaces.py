"""Loss spaces: ``searched`` (family and parameters), ``ce`` (label smoothing), ``fixed_ce``.

Trial parameters of ``searched``: ``loss_family``; ``loss_ls`` (ce, poly1, composite; step
0.05); ``loss_gamma`` (focal, composite; step 0.5); ``loss_epsilon`` (poly1; step 0.5);
``loss_weight`` (composite's focal weight; step 0.1); ``loss_cb`` and, when true,
``loss_cb_beta``. A parameter whose range is a single value is not asked. The ``composite``
family is ``CE(ls) + w·Focal(γ)``. ``ce`` asks only ``loss_ls``; ``fixed_ce`` asks nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from search_spaces._fields import as_choices, as_float, as_range, bools, choices_of, set_field
from search_spaces.base import LOSS_SPACES, InputInfo, TrialLike
from search_spaces.loss.specs import LOSS_KINDS, LossSpec
from search_spaces.registry import FieldError


def _grid(trial: TrialLike, name: str, low: float, high: float, step: float) -> float:
    """A float on the grid ``low + k * step`` (readable formulas); no parameter if fixed."""
    steps = math.floor((high - low) / step + 1e-9)
    if steps <= 0:
        return low
    # Round away float noise such as 0.30000000000000004 so formulas and JSON stay clean.
    high = round(low + steps * step, 9)
    return round(trial.suggest_float(name, low, high, step=step), 6)


@dataclass(frozen=True)
class CELossOptions:
    """Bounds of the ``ce`` space."""

    label_smoothing_max: float = 0.2

    def __post_init__(self) -> None:
        ls_max = as_float(
            None, "label_smoothing_max", self.label_smoothing_max, 0.0, 1.0, hi_open=True
        )
        set_field(self, "label_smoothing_max", ls_max)


@dataclass(frozen=True)
class SearchedLossOptions:
    """Bounds of the ``searched`` space."""

    families: tuple[str, ...] = LOSS_KINDS
    label_smoothing_max: float = 0.2
    gamma_range: tuple[float, float] = (0.5, 4.0)
    epsilon_range: tuple[float, float] = (-1.0, 2.0)
    weight_range: tuple[float, float] = (0.1, 1.0)
    class_balanced: tuple[bool, ...] = (False, True)
    betas: tuple[float, ...] = (0.9, 0.99, 0.999, 0.9999)

    def __post_init__(self) -> None:
        families = as_choices(None, "families", self.families, choices_of(LOSS_KINDS))
        set_field(self, "families", families)
        ls_max = CELossOptions(self.label_smoothing_max).label_smoothing_max  # the ce check
        set_field(self, "label_smoothing_max", ls_max)
        set_field(self, "gamma_range", as_range(None, "gamma_range", self.gamma_range, 0.0))
        set_field(self, "epsilon_range", as_range(None, "epsilon_range", self.epsilon_range, -1.0))
        weights = as_range(None, "weight_range", self.weight_range, 0.0)
        if weights[0] <= 0:
            raise FieldError("weight_range", f"need weights > 0, got {list(weights)}")
        set_field(self, "weight_range", weights)
        balanced = as_choices(None, "class_balanced", self.class_balanced, bools())
        set_field(self, "class_balanced", balanced)
        betas = as_choices(
            None, "betas", self.betas, lambda f, v: as_float(None, f, v, 0.0, 1.0, hi_open=True)
        )
        set_field(self, "betas", betas)


def _ls(trial: TrialLike, ls_max: float) -> float:
    return _grid(trial, "loss_ls", 0.0, ls_max, 0.05)


@LOSS_SPACES.register("searched", options=SearchedLossOptions)
def searched_loss_space(
    trial: TrialLike, info: InputInfo, options: SearchedLossOptions | None = None
) -> LossSpec:
    """Search the loss family, its parameters and class balancing."""
    o = options or SearchedLossOptions()
    family = trial.suggest_categorical("loss_family", o.families)
    balanced = trial.suggest_categorical("loss_cb", o.class_balanced)
    beta = float(trial.suggest_categorical("loss_cb_beta", o.betas)) if balanced else None
    if family == "ce":
        return LossSpec.ce(_ls(trial, o.label_smoothing_max), beta=beta)
    if family == "poly1":
        eps = _grid(trial, "loss_epsilon", *o.epsilon_range, 0.5)
        return LossSpec.poly1(eps, _ls(trial, o.label_smoothing_max), beta=beta)
    gamma = _grid(trial, "loss_gamma", *o.gamma_range, 0.5)
    if family == "focal":
        return LossSpec.focal(gamma, beta=beta)
    ce = LossSpec.ce(_ls(trial, o.label_smoothing_max))
    weight = _grid(trial, "loss_weight", *o.weight_range, 0.1)
    return LossSpec.composite((1.0, ce), (weight, LossSpec.focal(gamma)), beta=beta)


@LOSS_SPACES.register("ce", options=CELossOptions)
def ce_loss_space(
    trial: TrialLike, info: InputInfo, options: CELossOptions | None = None
) -> LossSpec:
    """Cross-entropy with searched label smoothing."""
    o = options or CELossOptions()
    return LossSpec.ce(_ls(trial, o.label_smoothing_max))


@LOSS_SPACES.register("fixed_ce")
def fixed_ce_loss_space(trial: TrialLike, info: InputInfo, options: None = None) -> LossSpec:
    """Plain cross-entropy; asks the trial nothing."""
    return LossSpec.ce()
