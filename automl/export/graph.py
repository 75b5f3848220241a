"""The network as shipped in ``model.onnx`` and ``model.pt2``: raw inputs in, the bundle's
standardization applied inside the graph, ``(logits, probabilities)`` out.

With the preprocessing inside, a phone or a plain ONNX Runtime script needs no automl code and
cannot forget (or repeat) the standardization.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn


def stats_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape that broadcasts one mean (std) per entry of a sample's first axis over a batch:
    ``(1, C, 1, ..., 1)``, as :func:`automl.data.apply_preprocessing` does."""
    return (1, int(input_shape[0])) + (1,) * (len(input_shape) - 1)


def with_preprocessing(model: nn.Module, preprocessing: dict[str, Any] | None,
                       input_shape: Sequence[int]) -> nn.Module:
    """``model`` wrapped: ``x -> ((x - mean) / std) -> (logits, softmax(logits))``.

    ``preprocessing=None`` leaves inputs as they are (the graph then takes standardized ones).
    """
    import torch

    shape = stats_shape(input_shape)
    if preprocessing is None:
        mean, std = torch.zeros(shape), torch.ones(shape)
        standardize = False
    else:
        mean = torch.tensor(preprocessing["mean"], dtype=torch.float32).reshape(shape)
        std = torch.tensor(preprocessing["std"], dtype=torch.float32).reshape(shape)
        standardize = True

    class Deployable(torch.nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.mean: torch.Tensor
            self.std: torch.Tensor
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if standardize:
                x = (x - self.mean) / self.std  # the same float32 ops as apply_preprocessing
            logits = self.inner(x)
            return logits, torch.softmax(logits, dim=-1)

    return Deployable(model).eval()


def unstandardize(x: np.ndarray, preprocessing: dict[str, Any]) -> np.ndarray:
    """Raw inputs that ``preprocessing`` turns (back) into ``x``: the data a user holds."""
    shape = stats_shape(x.shape[1:])
    mean = np.asarray(preprocessing["mean"], np.float32).reshape(shape)
    std = np.asarray(preprocessing["std"], np.float32).reshape(shape)
    return np.ascontiguousarray(x * std + mean, dtype=np.float32)
