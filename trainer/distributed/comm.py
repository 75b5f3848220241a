"""DDP communication hooks, each counting the bytes it all-reduces per step.

Every hook, ``none`` included, is registered through :func:`register_hook`, which wraps it so
that the hook itself adds the bytes of what it hands to the all-reduce:

* ``none``: ``allreduce_hook`` (what DDP does without a hook): the fp32 bucket;
* ``fp16`` / ``bf16``: the bucket cast to 16 bits, all-reduced and cast back: 2 bytes a value;
* ``powersgd``: rank-``powersgd_rank`` factors P (n x r) and Q (m x r) of every gradient matrix
  worth compressing, plus the 1-D tensors (biases, norms) uncompressed -- the element count
  that PowerSGD adds to its own ``total_numel_after_compression`` statistic for the bucket;
  plain all-reduce of the bucket for the first ``max(2, powersgd_start_iter)`` steps
  (PowerSGD's error feedback needs two).

``bytes_per_step`` averages the steady-state steps (after PowerSGD's start iteration when there
are any). ZeRO's parameter broadcasts and the trainer's own metric reductions are not counted.

``bf16``: DDP refuses torch's ``bf16_compress_hook`` unless CUDA and NCCL >= 2.10 are present
(a check on the hook's name). gloo all-reduces bfloat16 in this torch version, so the wrapper
runs the same hook on gloo too; the tests check that it trains and halves the bytes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
from torch.nn.parallel import DistributedDataParallel

from trainer.types import TrainConfig


class CommCounter:
    """Hook calls, and all-reduced bytes per optimizer step."""

    def __init__(self, skip_steps: int = 0) -> None:
        self.skip_steps = skip_steps
        self.hook_calls = 0
        self.step_bytes: list[int] = []
        self._step_over = True

    def add(self, nbytes: int, bucket: dist.GradBucket) -> None:
        """One hook call's bytes; the step's last bucket (``bucket.is_last()``) closes it."""
        if self._step_over:
            self.step_bytes.append(0)
        self.step_bytes[-1] += nbytes
        self.hook_calls += 1
        self._step_over = bucket.is_last()

    @property
    def bytes_per_step(self) -> float | None:
        """Mean bytes of the steady-state steps (all steps if none is past ``skip_steps``)."""
        steady = self.step_bytes[self.skip_steps :] or self.step_bytes
        return float(statistics.fmean(steady)) if steady else None


def skip_steps(cfg: TrainConfig) -> int:
    """Steps before the hook reaches its steady state (PowerSGD's plain all-reduce phase)."""
    return max(2, cfg.powersgd_start_iter) if cfg.comm_hook == "powersgd" else 0


def _bucket_bytes(bucket: dist.GradBucket, element_size: int | None = None) -> int:
    buffer = bucket.buffer()
    return buffer.numel() * (element_size or buffer.element_size())


# A counted hook runs torch's hook and returns its future with the bytes it all-reduces.
Counted = Callable[[Any, dist.GradBucket], tuple[torch.futures.Future[torch.Tensor], int]]


def _allreduce(state: Any, bucket: dist.GradBucket) -> tuple[Any, int]:
    return default_hooks.allreduce_hook(state, bucket), _bucket_bytes(bucket)


def _fp16(state: Any, bucket: dist.GradBucket) -> tuple[Any, int]:
    return default_hooks.fp16_compress_hook(state, bucket), _bucket_bytes(bucket, 2)


def _bf16(state: Any, bucket: dist.GradBucket) -> tuple[Any, int]:
    return default_hooks.bf16_compress_hook(state, bucket), _bucket_bytes(bucket, 2)


def _powersgd(state: psgd.PowerSGDState, bucket: dist.GradBucket) -> tuple[Any, int]:
    plain = state.iter < state.start_powerSGD_iter  # read first: the hook advances `iter`
    before = state.total_numel_after_compression
    future = psgd.powerSGD_hook(state, bucket)
    # P, Q and the uncompressed tensors have the bucket's dtype. The hook adds their element
    # count to its statistic before it returns; their all-reduces run later, in callbacks.
    numel = bucket.buffer().numel() if plain else state.total_numel_after_compression - before
    return future, numel * bucket.buffer().element_size()


def _counted_hook(cfg: TrainConfig) -> tuple[Any, Counted]:
    if cfg.comm_hook == "powersgd":
        state = psgd.PowerSGDState(
            process_group=None,
            matrix_approximation_rank=cfg.powersgd_rank,
            start_powerSGD_iter=max(2, cfg.powersgd_start_iter),
            random_seed=cfg.seed,
        )
        return state, _powersgd
    return None, {"none": _allreduce, "fp16": _fp16, "bf16": _bf16}[cfg.comm_hook]


def register_hook(ddp: DistributedDataParallel, cfg: TrainConfig, counter: CommCounter) -> None:
    """Register ``cfg.comm_hook`` on ``ddp``; every call adds its bytes to ``counter``."""
    state, hook = _counted_hook(cfg)

    # No annotations: DDP compares the hook's annotations with the real classes, and this
    # module's annotations are postponed strings. The parameter must be named `bucket`.
    def counted_hook(_, bucket):  # type: ignore[no-untyped-def]
        future, nbytes = hook(state, bucket)
        counter.add(nbytes, bucket)
        return future

    ddp.register_comm_hook(None, counted_hook)
