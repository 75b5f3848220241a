"""Loss specs, their builder, and the loss spaces (importing registers them)."""

from __future__ import annotations

from search_spaces.loss.build import (
    LOSS_FUNCTIONS,
    LossInputs,
    SpecLoss,
    build_loss,
    class_balanced_weights,
    per_sample_loss,
)
from search_spaces.loss.check import LossRejected, rejection
from search_spaces.loss.expr import Expr
from search_spaces.loss.kinds import LOSS_KINDS, LOSS_SPEC_KINDS, PRIMITIVE_KINDS, LossKind
from search_spaces.loss.spaces import (
    CELossOptions,
    SearchedLossOptions,
    SymbolicLossOptions,
    ce_loss_space,
    fixed_ce_loss_space,
    searched_loss_space,
    symbolic_loss_space,
)
from search_spaces.loss.specs import (
    LossSpec,
    LossTerm,
    formula,
    loss_from_dict,
    loss_to_dict,
)
from search_spaces.loss.symbolic import evaluate

__all__ = [
    "LOSS_FUNCTIONS",
    "LOSS_KINDS",
    "LOSS_SPEC_KINDS",
    "LossKind",
    "LossInputs",
    "LossRejected",
    "PRIMITIVE_KINDS",
    "CELossOptions",
    "Expr",
    "LossSpec",
    "LossTerm",
    "SearchedLossOptions",
    "SpecLoss",
    "SymbolicLossOptions",
    "build_loss",
    "ce_loss_space",
    "evaluate",
    "class_balanced_weights",
    "fixed_ce_loss_space",
    "formula",
    "loss_from_dict",
    "loss_to_dict",
    "per_sample_loss",
    "rejection",
    "searched_loss_space",
    "symbolic_loss_space",
]
