"""One rank's copy of the trial: device, model, DDP wrapper, optimizer, buffer sync."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.optim import optimizer_recipe, resolve_device
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


def wrap(model: nn.Module, cfg: TrainConfig, device: torch.device) -> DistributedDataParallel:
    """DDP with the bucket settings of ``cfg`` (rank 0's weights and buffers are broadcast here).

    Buffers are not re-broadcast before every forward: that would add a collective, a point
    where every rank waits for the slowest, to each step, and change nothing that matters.
    BatchNorm normalises with batch statistics while training, and rank 0's running
    statistics evolve from its own shards either way; :func:`buffer_sync` copies them to every
    rank before each evaluation.
    """
    return DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        bucket_cap_mb=cfg.bucket_cap_mb,
        gradient_as_bucket_view=cfg.gradient_as_bucket_view,
        forward_sync_buffers=False,
    )


def build_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The configured optimizer; with ``cfg.zero`` each rank keeps the state of its shard only."""
    cls, kwargs = optimizer_recipe(cfg)
    if cfg.zero:
        # Imported on use: torch.distributed.optim pulls in FSDP and sympy (0.7 s per rank).
        from torch.distributed.optim import ZeroRedundancyOptimizer

        return ZeroRedundancyOptimizer(model.parameters(), optimizer_class=cls, **kwargs)
    return cls(model.parameters(), **kwargs)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of optimizer state tensors held by this rank."""
    local = getattr(optimizer, "optim", optimizer)  # ZeRO keeps its shard's optimizer there
    return sum(
        v.numel() * v.element_size()
        for state in local.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor)
    )


def buffer_sync(model: nn.Module) -> Callable[[], None]:
    """Copy rank 0's buffers (BatchNorm statistics) to every rank, one broadcast per dtype.

    Each rank updates its own copy from its own shards (see :func:`wrap`), so after an epoch
    they differ; evaluation, and the weights kept, must be rank 0's.
    """
    groups: dict[torch.dtype, list[torch.Tensor]] = defaultdict(list)
    for buf in model.buffers():
        groups[buf.dtype].append(buf)

    def sync() -> None:
        with torch.no_grad():
            for bufs in groups.values():
                flat = torch.cat([b.reshape(-1) for b in bufs])
                dist.broadcast(flat, src=0)
                for b, new in zip(bufs, flat.split([b.numel() for b in bufs]), strict=True):
                    b.copy_(new.view_as(b))

    return sync


def count_micro_steps(model: nn.Module) -> Callable[[], int]:
    """A counter of training forward passes of ``model`` (micro-batches)."""
    calls = [0]

    def pre_hook(module: nn.Module, args: object) -> None:
        if module.training and torch.is_grad_enabled():
            calls[0] += 1

    model.register_forward_pre_hook(pre_hook)
    return lambda: calls[0]
