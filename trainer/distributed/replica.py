"""One rank's copy of the trial: its device, and :class:`DDPStrategy`, which the shared setup
and loop (:func:`trainer.core.fit`) train it with."""

from __future__ import annotations

from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.distributed import comm
from trainer.distributed.sharding import ShardedBatches, shard
from trainer.optim import optimizer_recipe, resolve_device
from trainer.strategy import Strategy
from trainer.types import TrainConfig


def resolve_backend(backend: str, device: torch.device) -> str:
    """``auto`` is NCCL for CUDA devices, gloo otherwise; NCCL without CUDA is an error."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ValueError("backend='nccl' needs CUDA; use backend='gloo' (or 'auto') on the CPU")
    return backend


def local_gpu(local_rank: int) -> torch.device:
    """The GPU of this local rank (one GPU per rank)."""
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(
            f"trainer.nproc: local rank {local_rank} has no GPU ({count} visible, one per rank)"
        )
    return torch.device("cuda", local_rank)


def rank_device(cfg: TrainConfig, local_rank: int) -> torch.device:
    """CPU, or the GPU of this local rank (one GPU per rank)."""
    device = resolve_device(cfg.device)
    return local_gpu(local_rank) if device.type == "cuda" else device


class DDPStrategy(Strategy):
    """DDP over the default process group: this rank's shards, gradients all-reduced by the
    counted comm hook, metrics all-reduced, rank 0's stop decision and buffers broadcast."""

    def __init__(self, device: torch.device) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.device = device
        self.counter = comm.CommCounter()
        self.micro_steps = 0
        self._ddp: DistributedDataParallel | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._buffers: dict[torch.dtype, list[torch.Tensor]] = defaultdict(list)

    def wrap(self, model: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
        """DDP with the bucket settings of ``cfg`` (rank 0's weights and buffers are broadcast
        here) and ``cfg.comm_hook``.

        Buffers are not re-broadcast before every forward: that would add a collective, a
        point where every rank waits for the slowest, to each step, and change nothing that
        matters. BatchNorm normalises with batch statistics while training, and rank 0's running
        statistics evolve from its own shards either way; :meth:`before_eval` copies them to
        every rank before each evaluation.
        """
        self._ddp = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            bucket_cap_mb=cfg.bucket_cap_mb,
            gradient_as_bucket_view=cfg.gradient_as_bucket_view,
            forward_sync_buffers=False,
        )
        self.counter.skip_steps = comm.skip_steps(cfg)
        comm.register_hook(self._ddp, cfg, self.counter)
        for buf in model.buffers():
            self._buffers[buf.dtype].append(buf)
        model.register_forward_pre_hook(self._count_micro_step)
        return self._ddp

    def _count_micro_step(self, module: nn.Module, args: object) -> None:
        if module.training and torch.is_grad_enabled():
            self.micro_steps += 1

    def optimizer(self, cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
        """The configured optimizer; with ``cfg.zero`` this rank keeps its shard's state only."""
        cls, kwargs = optimizer_recipe(cfg)
        if cfg.zero:
            # Imported on use: torch.distributed.optim pulls in FSDP and sympy (0.7 s per rank).
            from torch.distributed.optim import ZeroRedundancyOptimizer

            self._optimizer = ZeroRedundancyOptimizer(
                model.parameters(), optimizer_class=cls, **kwargs
            )
        else:
            self._optimizer = cls(model.parameters(), **kwargs)
        return self._optimizer

    def batches(self, n: int, cfg: TrainConfig, device: torch.device) -> ShardedBatches:
        return ShardedBatches(n, cfg.batch_size, cfg.seed, device, self.rank, self.world_size)

    def shard(self, x: torch.Tensor) -> torch.Tensor:
        return shard(x, self.rank, self.world_size)

    def sync(self, last: bool) -> AbstractContextManager[object]:
        # Accumulating micro-batches skip the all-reduce; the last one sends the sum.
        assert self._ddp is not None, "wrap() first"
        return nullcontext() if last else self._ddp.no_sync()

    def reduce(self, values: list[float], op: str = "sum") -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return [float(v) for v in t.tolist()]

    def agree(self, stop: bool) -> bool:
        flag = torch.tensor([int(stop)], device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    def before_eval(self) -> None:
        """Copy rank 0's buffers (BatchNorm statistics) to every rank, one broadcast per dtype:
        each rank updated its own copy from its own shards, and evaluation, and the weights
        kept, must be rank 0's."""
        with torch.no_grad():
            for bufs in self._buffers.values():
                flat = torch.cat([b.reshape(-1) for b in bufs])
                dist.broadcast(flat, src=0)
                for b, new in zip(bufs, flat.split([b.numel() for b in bufs]), strict=True):
                    b.copy_(new.view_as(b))

    def stats(self) -> dict[str, Any]:
        """What this rank measured: hook calls, bytes and steps, micro-batches, optimizer state."""
        return {
            "hook_calls": self.counter.hook_calls,
            "steps": len(self.counter.step_bytes),
            "micro_steps": self.micro_steps,
            "step_bytes": list(self.counter.step_bytes),
            "optimizer_state_bytes": _state_bytes(self._optimizer),
        }


def _state_bytes(optimizer: torch.optim.Optimizer | None) -> int:
    """Bytes of optimizer state tensors held by this rank."""
    local = getattr(optimizer, "optim", optimizer)  # ZeRO keeps its shard's optimizer there
    return sum(
        v.numel() * v.element_size()
        for state in (local.state.values() if local is not None else ())
        for v in state.values()
        if isinstance(v, torch.Tensor)
    )
