"""Search spaces: typed ``(trial) -> Spec`` functions, specs, and the builders that turn specs
into modules.

Importing this package registers every built-in space in :data:`ARCH_SPACES`,
:data:`LOSS_SPACES` and :data:`HPARAM_SPACES`. Use the ``sample_*`` helpers to go from a study
file's ``(name, options table)`` to a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from search_spaces.arch import (
    ArchSpec,
    AutoOptions,
    BlockSpec,
    ColumnSpec,
    ConvNetSpec,
    ConvOptions,
    MLPOptions,
    MLPSpec,
    RocketOptions,
    RocketSpec,
    SearchNet,
    StageSpec,
    TableSpec,
    arch_from_dict,
    arch_to_dict,
    as_fitted,
    auto_families,
    build_model,
    count_layers,
    deep_resnet_spec,
    describe,
    fitted_head,
    table_arch,
)
from search_spaces.base import ARCH_SPACES, HPARAM_SPACES, LOSS_SPACES, InputInfo, TrialLike
from search_spaces.hparams import HParamOptions, HParamSpec
from search_spaces.loss import (
    CELossOptions,
    Expr,
    LossRejected,
    LossSpec,
    LossTerm,
    SearchedLossOptions,
    SpecLoss,
    SymbolicLossOptions,
    build_loss,
    class_balanced_weights,
    loss_from_dict,
    loss_to_dict,
)
from search_spaces.registry import FieldError, Registry, RegistryError, make_options


def sample_arch(
    name: str,
    trial: TrialLike,
    info: InputInfo,
    options: dict[str, Any] | None = None,
    *,
    where: str = "search.arch_options",
) -> ArchSpec:
    """Sample an architecture spec from the space registered as ``name``.

    ``options`` is the study file's table for that space; an unknown space name lists the
    available ones, an unknown or bad option is reported as ``{where}.{option}``.
    """
    return arch_sampler(name, options, where=where)(trial, info)


def arch_sampler(
    name: str,
    options: dict[str, Any] | None = None,
    *,
    where: str = "search.arch_options",
) -> Callable[[TrialLike, InputInfo], ArchSpec]:
    """``sample(trial, info) -> spec`` for the space registered as ``name``, its options checked
    once (as :func:`sample_arch` checks them): for a caller that samples many times. A coded
    table's input (``info.columns``) gets the table encoding around the space's body."""
    space = ARCH_SPACES.get(name)
    opts = make_options(ARCH_SPACES.options_type(name), options, where)

    def sample(trial: TrialLike, info: InputInfo) -> ArchSpec:
        if info.columns is not None:  # a coded table: the body, then its encoding
            return table_arch(trial, info, lambda t, i: space(t, i, opts))
        return space(trial, info, opts)

    return sample


def sample_loss(
    name: str,
    trial: TrialLike,
    info: InputInfo,
    options: dict[str, Any] | None = None,
    *,
    where: str = "search.loss_options",
) -> LossSpec:
    """Sample a loss spec from the space registered as ``name`` (see :func:`sample_arch`)."""
    space = LOSS_SPACES.get(name)
    return space(trial, info, make_options(LOSS_SPACES.options_type(name), options, where))


def sample_hparams(
    name: str,
    trial: TrialLike,
    options: dict[str, Any] | None = None,
    *,
    where: str = "search.hparam_options",
) -> HParamSpec:
    """Sample training hyperparameters from the space registered as ``name``."""
    space = HPARAM_SPACES.get(name)
    return space(trial, make_options(HPARAM_SPACES.options_type(name), options, where))


__all__ = [
    "arch_sampler",
    "ColumnSpec",
    "TableSpec",
    "AutoOptions",
    "auto_families",
    "ARCH_SPACES",
    "HPARAM_SPACES",
    "LOSS_SPACES",
    "ArchSpec",
    "BlockSpec",
    "CELossOptions",
    "Expr",
    "LossRejected",
    "ConvNetSpec",
    "ConvOptions",
    "FieldError",
    "HParamOptions",
    "HParamSpec",
    "InputInfo",
    "LossSpec",
    "LossTerm",
    "MLPOptions",
    "MLPSpec",
    "RocketOptions",
    "RocketSpec",
    "Registry",
    "RegistryError",
    "SearchNet",
    "SearchedLossOptions",
    "SpecLoss",
    "SymbolicLossOptions",
    "StageSpec",
    "TrialLike",
    "arch_from_dict",
    "arch_to_dict",
    "build_loss",
    "build_model",
    "fitted_head",
    "as_fitted",
    "class_balanced_weights",
    "count_layers",
    "deep_resnet_spec",
    "describe",
    "loss_from_dict",
    "loss_to_dict",
    "make_options",
    "sample_arch",
    "sample_hparams",
    "sample_loss",
]
