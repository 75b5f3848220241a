"""The data set of a trial, prepared once and shared by its ranks.

The caller's process converts the arrays to tensors once and moves them to shared memory; the
spawned ranks of this machine receive them by handle (``torch.multiprocessing`` pickles a shared
tensor as a file descriptor), so N ranks cost one copy, not N. Ranks on other machines have no
copy: rank 0 broadcasts it to them over a gloo group. On CUDA each rank then copies the splits
to its GPU once, from pinned memory without blocking.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.distributed as dist

from trainer.data import TensorSplits
from trainer.types import DataSplits

_FIELDS = tuple(f.name for f in dataclasses.fields(TensorSplits))


def share_splits(data: DataSplits) -> TensorSplits:
    """CPU tensors of ``data`` in shared memory (one copy for all local ranks)."""
    splits = TensorSplits.from_numpy(data, torch.device("cpu"))
    for name in _FIELDS:
        getattr(splits, name).share_memory_()
    return splits


def receive_splits(splits: TensorSplits | None) -> TensorSplits:
    """Every rank's splits: its own when it has them, else rank 0's, broadcast to it.

    A collective: every rank calls it. Ranks spawned on node 0 hold the shared copy already;
    only the ranks of other machines take part in the broadcast.
    """
    have: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(have, splits is not None)
    needy = [r for r, h in enumerate(have) if not h]
    if not needy:
        assert splits is not None
        return splits
    if not have[0]:
        raise RuntimeError("rank 0 has no data to share: it must run on the node that trains")
    # gloo whatever the main backend: NCCL cannot broadcast CPU tensors.
    # Every rank must create the group, members or not; it goes with the default group.
    group = dist.new_group([0, *needy], backend="gloo")
    rank = dist.get_rank()
    if rank != 0 and rank not in needy:
        assert splits is not None
        return splits
    meta = [None if splits is None else _meta(splits)]
    dist.broadcast_object_list(meta, src=0, group=group)
    shapes = meta[0]
    assert shapes is not None
    tensors = []
    for name, (shape, dtype) in zip(_FIELDS, shapes, strict=True):
        t = getattr(splits, name) if splits is not None else torch.empty(shape, dtype=dtype)
        dist.broadcast(t, src=0, group=group)
        tensors.append(t)
    return TensorSplits(*tensors)


def _meta(splits: TensorSplits) -> list[tuple[tuple[int, ...], torch.dtype]]:
    return [(tuple(getattr(splits, n).shape), getattr(splits, n).dtype) for n in _FIELDS]


def to_device(splits: TensorSplits, device: torch.device) -> TensorSplits:
    """The splits on ``device``: unchanged on CPU; pinned, non-blocking copies on CUDA."""
    if device.type != "cuda":
        return splits
    moved = [getattr(splits, n).pin_memory().to(device, non_blocking=True) for n in _FIELDS]
    torch.cuda.current_stream(device).synchronize()  # pinned buffers may go once copied
    return TensorSplits(*moved)
