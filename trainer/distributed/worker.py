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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from trainer.data import TensorSplits, count_correct
from trainer.distributed import comm, replica
from trainer.distributed.channel import Channel
from trainer.distributed.job import InitArgs, Job, RankOutput
from trainer.distributed.sharding import ShardedBatches, shard
from trainer.distributed.shm import receive_splits, to_device
from trainer.env import dist_env
from trainer.factories import default_loss_factory, default_model_factory, set_checkpointing
from trainer.loop import _train_loop
from trainer.optim import autocast_factory, seed_everything
from trainer.types import EpochRecord

# Ranks other than 0 reseed after the model is built: dropout masks must differ between ranks,
# and rank 0 keeps the single-process random stream (so one rank == the plain trainer).
_RANK_SEED_STRIDE = 1_000_003


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
    if out.state_dict is not None:
        # Thousands of tensors through a queue would cost one file descriptor each.
        buffer = io.BytesIO()
        torch.save(out.state_dict, buffer)
        out.state_blob, out.state_dict = buffer.getvalue(), None
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
    env = dist_env()
    box = [job]
    dist.broadcast_object_list(box, src=0)  # every rank trains rank 0's candidate
    job = box[0]
    assert job is not None
    cfg = job.cfg
    device = replica.rank_device(cfg, env.local_rank)
    data = to_device(receive_splits(splits), device)
    seed_everything(cfg.seed)
    model = (job.model_factory or default_model_factory)(job.arch_spec)
    set_checkpointing(model, cfg.checkpointing)
    model.to(device)
    if env.rank:
        torch.manual_seed(cfg.seed + _RANK_SEED_STRIDE * env.rank)
    loss_fn = (job.loss_factory or default_loss_factory)(job.loss_spec, job.class_counts)
    loss_fn.to(device)
    ddp = replica.wrap(model, cfg, device)
    counter = comm.CommCounter(comm.skip_steps(cfg))
    comm.register_hook(ddp, cfg, counter)
    optimizer = replica.build_optimizer(cfg, model)
    micro_steps = replica.count_micro_steps(model)
    rank, world = env.rank, env.world_size
    local = TensorSplits(
        data.x_train, data.y_train,
        shard(data.x_val, rank, world), shard(data.y_val, rank, world),
        shard(data.x_test, rank, world), shard(data.y_test, rank, world),
    )  # fmt: skip

    def sync_context(last: bool) -> AbstractContextManager[object]:
        # Accumulating micro-batches skip the all-reduce; the last one sends the sum.
        return nullcontext() if last else ddp.no_sync()

    with counter.counting():
        outcome = _train_loop(
            ddp, loss_fn, optimizer, local, cfg, device,
            batches=ShardedBatches(len(data.y_train), cfg.batch_size, cfg.seed, device, rank,
                                   world),
            should_stop=_stopper(report, device),
            sync_context=sync_context,
            state_module=model,
            reduce_sums=_summer(device),
            before_eval=replica.buffer_sync(model),
        )  # fmt: skip
    model.load_state_dict(outcome.best_state)
    autocast = autocast_factory(cfg.precision, device)
    hits = count_correct(model, local.x_test, local.y_test, cfg.eval_batch_size, autocast)
    hits_total, test_n = _summer(device)([float(hits), float(len(local.y_test))])
    peak = _max_over_ranks(outcome.peak_memory_mb, device)
    return RankOutput(
        rank=rank,
        stats={
            "hook_calls": counter.hook_calls,
            "steps": len(counter.step_bytes),
            "micro_steps": micro_steps(),
            "step_bytes": list(counter.step_bytes),
            "optimizer_state_bytes": replica.optimizer_state_bytes(optimizer),
            "local_peak_memory_mb": outcome.peak_memory_mb,
        },
        state_dict=outcome.best_state if rank == 0 else None,
        history=outcome.history,
        val_accuracy=outcome.best_val,
        test_accuracy=hits_total / test_n if test_n else float("nan"),
        best_epoch=outcome.best_epoch,
        stopped_early=outcome.stopped_early,
        seconds=outcome.seconds,
        peak_memory_mb=peak,
        comm_bytes_per_step=counter.bytes_per_step,
    )


def _stopper(
    report: Callable[[EpochRecord], bool] | None, device: torch.device
) -> Callable[[EpochRecord], bool]:
    def should_stop(record: EpochRecord) -> bool:
        # Rank 0 alone asks the caller; every rank then follows its answer, so no rank can
        # stop (prune) while the others wait in the next all-reduce.
        decision = bool(report(record)) if report is not None else False
        flag = torch.tensor([int(decision)], device=device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    return should_stop


def _summer(device: torch.device) -> Callable[[list[float]], list[float]]:
    def reduce_sums(values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        comm.all_reduce(t)
        return [float(v) for v in t.tolist()]

    return reduce_sums


def _max_over_ranks(value: float | None, device: torch.device) -> float | None:
    """The largest rank's peak: the memory each device must have for this trial."""
    t = torch.tensor([-1.0 if value is None else value], dtype=torch.float64, device=device)
    comm.all_reduce(t, op=dist.ReduceOp.MAX)
    return None if t.item() < 0 else float(t.item())


def _exit_with_parent(poll: float = 1.0) -> None:
    """Leave no orphan: a rank whose launcher died (killed, say) exits within ``poll`` s."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
