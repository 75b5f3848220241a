"""DDP communication hooks and the bytes they all-reduce per step.

Every hook, ``none`` included, runs through one counting wrapper registered with
``DistributedDataParallel.register_comm_hook``:

* ``none``: ``allreduce_hook`` (what DDP does without a hook: fp32 buckets, averaged);
* ``fp16`` / ``bf16``: the bucket is cast to 16 bits, all-reduced and cast back;
* ``powersgd``: rank-``powersgd_rank`` factors P (n x r) and Q (m x r) of every gradient matrix
  worth compressing, plus the 1-D tensors (biases, norms) uncompressed; plain all-reduce for the
  first ``max(2, powersgd_start_iter)`` steps (PowerSGD's error feedback needs two).

The bytes counted are those of the tensors handed to ``torch.distributed.all_reduce`` -- the
compressed ones, for compressing hooks -- counted by wrapping that function for the duration of
training (PowerSGD calls it again from future callbacks, after the hook has returned).
``bytes_per_step`` averages the steady-state steps (after PowerSGD's start iteration when there
are any). ZeRO's parameter broadcasts and the trainer's own metric reductions are not counted.

``bf16``: DDP refuses torch's ``bf16_compress_hook`` unless CUDA and NCCL >= 2.10 are present
(a check on the hook's name). gloo all-reduces bfloat16 in this torch version, so the wrapper
runs the same hook on gloo too; the tests check that it trains and halves the bytes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
from torch.nn.parallel import DistributedDataParallel

from trainer.types import TrainConfig

# Captured at import, before `CommCounter.counting` patches the module attribute, so that the
# trainer's own reductions (losses, hit counts) are never counted as gradient traffic.
_RAW_ALL_REDUCE = dist.all_reduce


def all_reduce(tensor: torch.Tensor, op: Any = dist.ReduceOp.SUM) -> None:
    """An all-reduce that the byte counter does not see."""
    _RAW_ALL_REDUCE(tensor, op=op)


class CommCounter:
    """Hook calls, and all-reduced bytes per optimizer step."""

    def __init__(self, skip_steps: int = 0) -> None:
        self.skip_steps = skip_steps
        self.hook_calls = 0
        self.step_bytes: list[int] = []
        self._step_over = True

    def begin_bucket(self) -> None:
        # A step's last bucket may still all-reduce from a future callback after its hook
        # returned, so a step closes only when the next step's first bucket arrives.
        if self._step_over:
            self.step_bytes.append(0)
            self._step_over = False
        self.hook_calls += 1

    def end_bucket(self, bucket: dist.GradBucket) -> None:
        if bucket.is_last():
            self._step_over = True

    def add(self, tensor: torch.Tensor) -> None:
        if self.step_bytes:
            self.step_bytes[-1] += tensor.numel() * tensor.element_size()

    @property
    def bytes_per_step(self) -> float | None:
        """Mean bytes of the steady-state steps (all steps if none is past ``skip_steps``)."""
        steady = self.step_bytes[self.skip_steps :] or self.step_bytes
        return float(statistics.fmean(steady)) if steady else None

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Count every ``torch.distributed.all_reduce`` call (the hooks' calls) while active."""

        def counted(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            self.add(tensor)
            return _RAW_ALL_REDUCE(tensor, *args, **kwargs)

        dist.all_reduce = counted  # type: ignore[assignment]
        try:
            yield
        finally:
            dist.all_reduce = _RAW_ALL_REDUCE


def _inner_hook(cfg: TrainConfig) -> tuple[Any, Callable[..., torch.futures.Future[torch.Tensor]]]:
    if cfg.comm_hook == "powersgd":
        state = psgd.PowerSGDState(
            process_group=None,
            matrix_approximation_rank=cfg.powersgd_rank,
            start_powerSGD_iter=max(2, cfg.powersgd_start_iter),
            random_seed=cfg.seed,
        )
        return state, psgd.powerSGD_hook
    hooks = {
        "none": default_hooks.allreduce_hook,
        "fp16": default_hooks.fp16_compress_hook,
        "bf16": default_hooks.bf16_compress_hook,
    }
    return None, hooks[cfg.comm_hook]


def skip_steps(cfg: TrainConfig) -> int:
    """Steps before the hook reaches its steady state (PowerSGD's plain all-reduce phase)."""
    return max(2, cfg.powersgd_start_iter) if cfg.comm_hook == "powersgd" else 0


def register_hook(ddp: DistributedDataParallel, cfg: TrainConfig, counter: CommCounter) -> None:
    """Register ``cfg.comm_hook`` on ``ddp``, counted by ``counter``."""
    inner_state, inner = _inner_hook(cfg)

    # No annotations: DDP compares the hook's annotations with the real classes, and this
    # module's annotations are postponed strings. The parameter must be named `bucket`.
    def counted_hook(state, bucket):  # type: ignore[no-untyped-def]
        counter.begin_bucket()
        try:
            return inner(inner_state, bucket)
        finally:
            counter.end_bucket(bucket)

    ddp.register_comm_hook(None, counted_hook)
