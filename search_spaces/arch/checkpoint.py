"""Activation recomputation over a list of blocks.

``blocks`` checkpoints every block (memory ~ one block's activations plus every block input);
``sqrt`` checkpoints ceil(sqrt(n)) segments of consecutive blocks (memory ~ O(sqrt(n)) block
activations, Chen et al. 2016), which is what lets a thousand-block network train on a small card.

Recomputation is ``torch.utils.checkpoint(use_reentrant=False)``, set up so that it costs little
beyond the extra forward:

* The last segment is not checkpointed: backward needs its activations first, so recomputing
  them right after the forward kept them would only cost time (the peak is the same: it is
  reached while that segment's activations are alive in either case).
* The RNG state is saved and restored only for segments with a random op (dropout, RReLU);
  every other segment recomputes the same values without it.
* ``determinism_check="none"``: the blocks here are fixed-shape conv / linear stacks, so the
  default check (a metadata record per saved tensor, compared after recomputation) could not
  fire; on small layers its per-tensor Python cost was a few percent of the step.

BatchNorm in training mode would update its running statistics again when a segment is
recomputed, so the eval-mode network would differ with the checkpointing mode. The re-run here
freezes those statistics, which keeps the three modes equivalent in both gradients and buffers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd
from torch.utils.checkpoint import checkpoint

# The one list of checkpointing modes: trainer.checkpointing's allowed values are read from here.
MODES = ("none", "blocks", "sqrt")
_RANDOM = (_DropoutNd, nn.RReLU)


class Segment:
    """Consecutive blocks run as one checkpointed unit; calls after the first are recomputations.

    What a segment needs to know about its modules (its BatchNorms, whether any op draws random
    numbers) is found once, when it is built, so a model can keep its segments between steps.
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.modules = tuple(modules)
        subs = [m for block in self.modules for m in block.modules()]
        self.norms = tuple(m for m in subs if isinstance(m, _BatchNorm))
        self.random = any(
            isinstance(m, _RANDOM) and getattr(m, "p", 1.0) != 0 for m in subs
        )  # fmt: skip

    def run(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.modules:
            x = m(x)
        return x

    def checkpointed(self, x: torch.Tensor) -> torch.Tensor:
        """``run(x)`` keeping only ``x``: the rest is recomputed in backward."""
        calls = 0

        def forward(x: torch.Tensor) -> torch.Tensor:
            nonlocal calls
            calls += 1
            return self.run(x) if calls == 1 else self._recompute(x)

        out: torch.Tensor = checkpoint(
            forward,
            x,
            use_reentrant=False,
            preserve_rng_state=self.random,
            determinism_check="none",
        )
        return out

    def _recompute(self, x: torch.Tensor) -> torch.Tensor:
        # momentum 0 keeps running_mean/var as they are; the step counter is swapped for a copy.
        # Module.__setattr__ is bypassed on purpose: at a thousand BatchNorms a step its
        # bookkeeping was measurable, and both attributes are plain entries of these dicts.
        saved = []
        for m in self.norms:
            tracked = m._buffers.get("num_batches_tracked")
            saved.append((m.__dict__["momentum"], tracked))
            m.__dict__["momentum"] = 0.0
            if tracked is not None:
                m._buffers["num_batches_tracked"] = tracked.clone()
        try:
            return self.run(x)
        finally:
            for m, (momentum, tracked) in zip(self.norms, saved, strict=True):
                m.__dict__["momentum"] = momentum
                if tracked is not None:
                    m._buffers["num_batches_tracked"] = tracked


def segment_size(n: int, mode: str) -> int:
    """Blocks per checkpointed segment for ``n`` blocks."""
    if mode == "blocks" or n <= 1:
        return 1
    segments = math.ceil(math.sqrt(n))
    return math.ceil(n / segments)


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`, else a ValueError naming them."""
    if mode not in MODES:
        raise ValueError(f"checkpointing: {mode!r} is not one of {', '.join(MODES)}")
    return mode


def plan_segments(blocks: Sequence[nn.Module], mode: str) -> list[Segment]:
    """``blocks`` cut into the segments that ``mode`` checkpoints (one segment for ``none``)."""
    check_mode(mode)
    if mode == "none":
        return [Segment(blocks)]
    size = segment_size(len(blocks), mode)
    return [Segment(blocks[start : start + size]) for start in range(0, len(blocks), size)]


def run_segments(segments: Sequence[Segment], x: torch.Tensor) -> torch.Tensor:
    """Run every segment but the last under checkpointing, the last plainly (see above)."""
    for segment in segments[:-1]:
        x = segment.checkpointed(x)
    return segments[-1].run(x) if segments else x


def run_checkpointed(blocks: Sequence[nn.Module], x: torch.Tensor, mode: str) -> torch.Tensor:
    """Run ``blocks`` on ``x``, recomputing activations in backward as ``mode`` says."""
    return run_segments(plan_segments(blocks, mode), x)
