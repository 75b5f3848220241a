"""The body of one rank: receive the trial, train its DDP replica, return what it measured.

``worker_main`` is the entry point the launcher spawns (module level, so ``spawn`` can import
it); ``run_rank`` is the part shared with processes that torchrun started itself.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from trainer.core import fit
from trainer.data import TensorSplits
from trainer.distributed import replica
from trainer.distributed.channel import Channel
from trainer.distributed.job import InitArgs, Job, RankOutput
from trainer.distributed.shm import receive_splits, to_device
from trainer.env import dist_env
from trainer.types import EpochRecord


@record
def worker_main(
    init: InitArgs, job: Job | None, splits: TensorSplits | None, channel: Channel | None
) -> RankOutput:
    """Entry point of a spawned rank. ``job``/``splits`` are None on the ranks of other
    machines (they receive rank 0's); ``channel`` is None there too."""
    dist_env.cache_clear()  # a forked rank may carry its parent's reading; read ours, once
    env = dist_env()
    _exit_with_parent()
    torch.set_num_threads(init.num_threads)
    with _reported(channel, env.rank):
        bind_device(init, env.local_rank)
    dist.init_process_group(init.backend, timeout=timedelta(seconds=init.timeout))
    try:
        with _reported(channel, env.rank):
            report = channel.report if channel is not None and env.rank == 0 else None
            out = run_rank(job, splits, report)
    finally:
        dist.destroy_process_group()
    if out.rank == 0:  # the kept weights are the same on every rank: rank 0 returns them
        # Thousands of tensors through a queue would cost one file descriptor each.
        buffer = io.BytesIO()
        torch.save(out.result.state_dict, buffer)
        out.state_blob = buffer.getvalue()
    out.result.state_dict = {}
    return out


@contextmanager
def _reported(channel: Channel | None, rank: int) -> Iterator[None]:
    """An exception raised inside goes to the caller's channel (the failing rank's message)."""
    try:
        yield
    except BaseException as exc:
        if channel is not None:
            channel.send_error(rank, exc)
        raise


def bind_device(init: InitArgs, local_rank: int) -> None:
    """Make ``cuda:<local rank>`` this process's current device, before the process group
    exists: NCCL, collectives that place tensors on the current device (``broadcast_object_list``
    ...) and pinned copies then all use the GPU that DDP is given. Nothing on the CPU."""
    if init.device == "cuda":
        torch.cuda.set_device(replica.local_gpu(local_rank))


def run_rank(
    job: Job | None,
    splits: TensorSplits | None,
    report: Callable[[EpochRecord], bool] | None,
) -> RankOutput:
    """Train this rank's replica of rank 0's job; the process group must be initialized.

    ``report`` (rank 0 only) gets every all-reduced epoch record and returns the stop decision,
    which rank 0 then broadcasts.
    """
    box = [job]
    dist.broadcast_object_list(box, src=0)  # every rank trains rank 0's candidate
    job = box[0]
    assert job is not None
    device = replica.rank_device(job.request.cfg, dist_env().local_rank)
    data = to_device(receive_splits(splits), device)
    strategy = replica.DDPStrategy(device)
    fitted = fit(job.request, data, job.class_counts, device, strategy, report)
    result = fitted.result(comm_bytes_per_step=strategy.counter.bytes_per_step)
    stats = {**strategy.stats(), "local_peak_memory_mb": fitted.outcome.peak_memory_mb}
    return RankOutput(strategy.rank, result, stats)


def _exit_with_parent(poll: float = 1.0) -> None:
    """Leave no orphan: a rank whose launcher died (killed, say) exits within ``poll`` s."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
