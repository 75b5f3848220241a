"""The ``auto`` space: pick the family from the sample shape, with that family's defaults.

``(D,)`` -> ``mlp``, ``(C, L)`` -> ``cnn1d``, ``(C, H, W)`` -> ``cnn2d``. It takes no options;
name the family's space directly to bound it.
"""

from __future__ import annotations

from search_spaces.arch.conv import sample_convnet
from search_spaces.arch.mlp import mlp_space
from search_spaces.arch.specs import ArchSpec
from search_spaces.base import ARCH_SPACES, InputInfo, TrialLike

_BY_NDIM = {1: "mlp", 2: "cnn1d", 3: "cnn2d"}


def auto_family(info: InputInfo) -> str:
    """The space ``auto`` dispatches to for ``info``."""
    try:
        return _BY_NDIM[len(info.shape)]
    except KeyError:
        raise ValueError(
            f"auto: no architecture family for a {len(info.shape)}-dim sample shape "
            f"{info.shape}; use 1 (vectors), 2 (sequences) or 3 (images) dims"
        ) from None


@ARCH_SPACES.register("auto")
def auto_space(trial: TrialLike, info: InputInfo, options: None = None) -> ArchSpec:
    """Sample from ``mlp``, ``cnn1d`` or ``cnn2d`` by ``len(info.shape)``."""
    family = auto_family(info)
    if family == "mlp":
        return mlp_space(trial, info)
    return sample_convnet(family, trial, info)
