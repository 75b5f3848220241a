"""Training memory of a candidate before it exists: estimated on the ``meta`` device.

A space whose widths make one candidate need gigabytes would otherwise be found out by the
allocator, mid-training. :func:`estimate_training_memory` builds the network on ``meta`` (shapes,
no memory, as :func:`trainer.cost.static_cost` does) and runs one training forward and backward
at the real micro-batch size, and one evaluation forward, under a meta
:class:`~trainer.memory.PeakMemoryMeter`: it sees what those ops would allocate -- saved
activations, temporaries, gradients, and what activation checkpointing keeps and recomputes --
in the same sizes as on the CPU (one fp32 step of an MLP, a CNN and a 1-D ResNet matched the
CPU meter to the byte). The optimizer step is not run (its ``step`` counter is read with
``.item()``); its state and temporaries are added by formula. Autocast has no meta kernels, so
bf16/fp16 are emulated: the inputs of autocast's lower-precision ops (linear, convolutions,
matmul) are cast, and layer/group norm and softmax run in fp32 as CUDA's autocast runs them.

Two helpers make that cheap and faithful: :mod:`~trainer.memory_estimate.kernels` answers the
costliest meta ops (elementwise, batch norm) from their input's shape, and
:mod:`~trainer.memory_estimate.autocast` emulates autocast. What the estimate is held against,
the memory one training process can still take, is read by
:func:`~trainer.memory_estimate.headroom.available_memory`.

Not counted: memory no ATen op allocates (the CUDA context, allocator rounding and slack, cuDNN
workspaces), a searched loss's own buffers (a cross-entropy stands in), a ``rocket`` candidate's
feature cache and its one-off fit before training, and DDP communication hooks' buffers.
"""

from __future__ import annotations

from trainer.memory_estimate.estimate import (
    MemoryEstimate,
    estimate_training_memory,
    splits_bytes,
    training_device,
)
from trainer.memory_estimate.headroom import available_memory

__all__ = [
    "MemoryEstimate",
    "available_memory",
    "estimate_training_memory",
    "splits_bytes",
    "training_device",
]
