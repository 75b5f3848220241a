"""Activation recomputation over a list of blocks.

``blocks`` checkpoints every block (memory ~ one block's activations plus every block input);
``sqrt`` checkpoints ceil(sqrt(n)) segments of consecutive blocks (memory ~ O(sqrt(n)) block
activations, Chen et al. 2016), which is what lets a thousand-block network train on a small card.

Recomputation reruns the blocks' forward in backward, and BatchNorm in training mode would then
update its running statistics twice per step, so the eval-mode network would differ with the
checkpointing mode. The re-run here freezes those statistics, which keeps the three modes
equivalent in both gradients and buffers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

MODES = ("none", "blocks", "sqrt")


@contextmanager
def _frozen_running_stats(modules: Sequence[nn.Module]) -> Iterator[None]:
    norms = [m for block in modules for m in block.modules() if isinstance(m, _BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked) for m in norms]
    for m in norms:
        # momentum 0 keeps running_mean/var as they are; the counter is restored below.
        m.momentum = 0.0
        if m.num_batches_tracked is not None:
            m.num_batches_tracked = m.num_batches_tracked.clone()
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved, strict=True):
            m.momentum = momentum
            m.num_batches_tracked = tracked


class _Segment:
    """Runs blocks in order; calls after the first are recomputations."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.modules = modules
        self.calls = 0

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.modules:
            x = m(x)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1:
            return self._run(x)
        with _frozen_running_stats(self.modules):
            return self._run(x)


def segment_size(n: int, mode: str) -> int:
    """Blocks per checkpointed segment for ``n`` blocks."""
    if mode == "blocks" or n <= 1:
        return 1
    segments = math.ceil(math.sqrt(n))
    return math.ceil(n / segments)


def run_checkpointed(blocks: Sequence[nn.Module], x: torch.Tensor, mode: str) -> torch.Tensor:
    """Run ``blocks`` on ``x``, recomputing activations in backward as ``mode`` says."""
    if mode not in MODES:
        raise ValueError(f"checkpointing: {mode!r} is not one of {', '.join(MODES)}")
    if mode == "none":
        return _Segment(blocks)._run(x)
    size = segment_size(len(blocks), mode)
    for start in range(0, len(blocks), size):
        segment = _Segment(list(blocks[start : start + size]))
        x = checkpoint(segment, x, use_reentrant=False)
    return x
