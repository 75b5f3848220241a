"""How the trainer turns specs into modules.

The defaults come from ``search_spaces``, imported on first use: that keeps ``import trainer``
light and lets tests (and other callers) inject their own factories instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

from torch import nn

# arch_spec -> network mapping a batch (N, *input_shape) to logits (N, num_classes)
ModelFactory = Callable[[Any], nn.Module]
# (loss_spec, class_counts) -> module mapping (logits (N, C) float, targets (N,) int64) -> scalar
LossFactory = Callable[[Any, Sequence[int] | None], nn.Module]


def default_model_factory(arch_spec: Any) -> nn.Module:
    """``search_spaces.build_model``."""
    from search_spaces import build_model

    return build_model(arch_spec)


def default_loss_factory(loss_spec: Any, class_counts: Sequence[int] | None) -> nn.Module:
    """``search_spaces.build_loss``."""
    from search_spaces import build_loss

    return build_loss(loss_spec, class_counts)


def set_checkpointing(model: nn.Module, mode: str) -> None:
    """Switch activation recomputation on a model with a ``checkpointing`` attribute (SearchNet);
    other models train without it, with a warning."""
    if hasattr(model, "checkpointing"):
        cast(Any, model).checkpointing = mode  # a plain attribute, not a submodule
    elif mode != "none":
        warnings.warn(
            f"checkpointing={mode!r} ignored: {type(model).__name__} has no `checkpointing`",
            stacklevel=3,
        )
