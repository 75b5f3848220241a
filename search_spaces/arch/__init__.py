"""Architecture specs, their builder, and the spaces that sample them.

Importing this package registers the ``mlp``, ``cnn1d``, ``cnn2d``, ``rocket`` and ``auto`` spaces.
"""

from __future__ import annotations

from search_spaces.arch.auto import AutoOptions, auto_families, auto_family, auto_space
from search_spaces.arch.conv import ConvOptions, cnn1d_space, cnn2d_space, sample_convnet
from search_spaces.arch.deep import deep_resnet_spec, max_downsamples
from search_spaces.arch.describe import describe
from search_spaces.arch.mlp import MLPOptions, mlp_space
from search_spaces.arch.net import (
    ARCH_BUILDERS,
    ArchBuilder,
    SearchNet,
    build_model,
    count_layers,
    fitted_head,
)
from search_spaces.arch.rocket import (
    RocketFeatures,
    RocketOptions,
    as_fitted,
    rocket_plan,
    rocket_space,
)
from search_spaces.arch.specs import (
    ACTIVATIONS,
    ARCH_KINDS,
    NORMS,
    OPS,
    ArchSpec,
    BlockSpec,
    ConvNetSpec,
    MLPSpec,
    RocketSpec,
    StageSpec,
    arch_from_dict,
    arch_to_dict,
)
from search_spaces.arch.table import TableEncoder, table_arch
from search_spaces.arch.table_spec import ColumnSpec, TableSpec

__all__ = [
    "ColumnSpec",
    "TableEncoder",
    "TableSpec",
    "table_arch",
    "ACTIVATIONS",
    "ARCH_BUILDERS",
    "ARCH_KINDS",
    "ArchBuilder",
    "NORMS",
    "OPS",
    "ArchSpec",
    "BlockSpec",
    "ConvNetSpec",
    "ConvOptions",
    "MLPOptions",
    "MLPSpec",
    "RocketFeatures",
    "RocketOptions",
    "RocketSpec",
    "SearchNet",
    "StageSpec",
    "arch_from_dict",
    "arch_to_dict",
    "as_fitted",
    "AutoOptions",
    "auto_families",
    "auto_family",
    "auto_space",
    "build_model",
    "fitted_head",
    "cnn1d_space",
    "cnn2d_space",
    "count_layers",
    "deep_resnet_spec",
    "describe",
    "max_downsamples",
    "mlp_space",
    "rocket_plan",
    "rocket_space",
    "sample_convnet",
]
