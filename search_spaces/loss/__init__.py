"""Loss specs, their builder, and the loss spaces (importing registers them)."""

from __future__ import annotations

from search_spaces.loss.build import (
    LOSS_FUNCTIONS,
    SpecLoss,
    build_loss,
    class_balanced_weights,
    per_sample_loss,
)
from search_spaces.loss.spaces import (
    CELossOptions,
    SearchedLossOptions,
    ce_loss_space,
    fixed_ce_loss_space,
    searched_loss_space,
)
from search_spaces.loss.specs import (
    LOSS_KINDS,
    LOSS_SPEC_KINDS,
    PRIMITIVE_KINDS,
    LossKind,
    LossSpec,
    LossTerm,
    formula,
    loss_from_dict,
    loss_to_dict,
)

__all__ = [
    "LOSS_FUNCTIONS",
    "LOSS_KINDS",
    "LOSS_SPEC_KINDS",
    "LossKind",
    "PRIMITIVE_KINDS",
    "CELossOptions",
    "LossSpec",
    "LossTerm",
    "SearchedLossOptions",
    "SpecLoss",
    "build_loss",
    "ce_loss_space",
    "class_balanced_weights",
    "fixed_ce_loss_space",
    "formula",
    "loss_from_dict",
    "loss_to_dict",
    "per_sample_loss",
    "searched_loss_space",
]
