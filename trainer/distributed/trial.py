"""``train()`` on several processes: set the trial up, run its ranks, assemble the result."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from trainer.cost import measure_costs
from trainer.data import TensorSplits
from trainer.distributed.job import InitArgs, Job, RankOutput, check_picklable
from trainer.distributed.launch import spawn_ranks
from trainer.distributed.nodes import node_settings
from trainer.distributed.replica import resolve_backend
from trainer.distributed.worker import bind_device, run_rank
from trainer.env import dist_env
from trainer.factories import LossFactory, ModelFactory, default_model_factory
from trainer.optim import check_trial
from trainer.runtime import torch_threads
from trainer.types import (
    Costs,
    DataSplits,
    EpochCallback,
    TrainConfig,
    TrainResult,
    best_val_loss,
)


def launch_trial(
    arch_spec: Any,
    loss_spec: Any,
    data: DataSplits,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    *,
    model_factory: ModelFactory | None = None,
    loss_factory: LossFactory | None = None,
) -> tuple[TrainResult, list[RankOutput]]:
    """Train with DDP on ``cfg.nproc`` ranks per machine; the result and every local rank's
    output (their ``stats`` hold hook calls, bytes per step, optimizer state bytes ...).

    In a process that torchrun started (``WORLD_SIZE`` > 1) the ranks already exist: this
    process trains as its rank, and ``cfg.nproc`` is ignored.
    """
    device = check_trial(cfg, data)
    job = Job(
        arch_spec, loss_spec, cfg, data.class_counts(), data.input_shape,
        model_factory, loss_factory,
    )  # fmt: skip
    init = InitArgs(
        resolve_backend(cfg.backend, device), cfg.timeout, cfg.num_threads or 1, device.type
    )
    launched = dist_env().world_size > 1  # by torchrun: the ranks exist already
    if device.type == "cuda" and not launched:
        gpus = torch.cuda.device_count()
        if cfg.nproc > gpus:
            raise ValueError(
                f"trainer.nproc: {cfg.nproc} ranks need {cfg.nproc} GPUs on this machine, "
                f"{gpus} visible (one GPU per rank; NCCL refuses two ranks on one GPU)"
            )
    if launched:
        outputs = [_as_launched_rank(job, init, data, on_epoch)]
    else:
        check_picklable(job)
        outputs = spawn_ranks(job, init, data, on_epoch, node_settings())
    return _result(outputs[0], job, data), outputs


def _as_launched_rank(
    job: Job, init: InitArgs, data: DataSplits, on_epoch: EpochCallback | None
) -> RankOutput:
    env = dist_env()
    bind_device(init, env.local_rank)  # torchrun does not: it leaves every rank on cuda:0
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(init.backend, timeout=timedelta(seconds=init.timeout))
    try:
        splits = TensorSplits.from_numpy(data, torch.device("cpu"))
        return run_rank(job, splits, on_epoch if env.is_main else None)
    finally:
        if owned:
            dist.destroy_process_group()


def _result(out: RankOutput, job: Job, data: DataSplits) -> TrainResult:
    state = out.state_dict
    if state is None and out.state_blob is not None:
        state = torch.load(io.BytesIO(out.state_blob), weights_only=True)
    assert state is not None, "rank 0 returns the kept weights"
    return TrainResult(
        val_accuracy=out.val_accuracy,
        test_accuracy=out.test_accuracy,
        history=out.history,
        train_seconds=out.seconds,
        best_epoch=out.best_epoch,
        stopped_early=out.stopped_early,
        state_dict=state,
        peak_memory_mb=out.peak_memory_mb,
        comm_bytes_per_step=out.comm_bytes_per_step,
        costs=_costs(job, state, data) if dist_env().is_main else None,
        val_loss=best_val_loss(out.history, out.best_epoch),
    )


def _costs(job: Job, state: dict[str, torch.Tensor], data: DataSplits) -> Costs:
    """Measured here, in the caller's process and with its threads, as the plain trainer does."""
    with torch_threads(job.cfg.num_threads):
        with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
            model = (job.model_factory or default_model_factory)(job.arch_spec)
        model.load_state_dict(state)
        return measure_costs(model, data.input_shape, job.cfg.latency_repeats)


def train_distributed(
    arch_spec: Any,
    loss_spec: Any,
    data: DataSplits,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    *,
    model_factory: ModelFactory | None = None,
    loss_factory: LossFactory | None = None,
) -> TrainResult:
    """:func:`launch_trial` without the per-rank outputs (what ``trainer.train`` calls)."""
    result, _ = launch_trial(
        arch_spec, loss_spec, data, cfg, on_epoch,
        model_factory=model_factory, loss_factory=loss_factory,
    )  # fmt: skip
    return result
