"""A trial on several processes: set it up, run its ranks, assemble the result."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import torch
import torch.distributed as dist

from trainer.core import TrainRequest
from trainer.cost import measure_costs
from trainer.data import TensorSplits
from trainer.distributed.job import InitArgs, Job, RankOutput
from trainer.distributed.launch import spawn_ranks
from trainer.distributed.nodes import node_settings
from trainer.distributed.replica import resolve_backend
from trainer.distributed.worker import bind_device, run_rank
from trainer.env import dist_env
from trainer.optim import check_trial
from trainer.runtime import torch_threads
from trainer.types import Costs, DataSplits, EpochCallback, TrainResult


def launch_trial(
    request: TrainRequest, data: DataSplits, on_epoch: EpochCallback | None = None
) -> tuple[TrainResult, list[RankOutput]]:
    """:func:`trainer.train` with DDP on ``cfg.nproc`` ranks per machine; the result and every
    local rank's output (their ``stats`` hold hook calls, bytes per step, optimizer state ...).

    In a process that torchrun started (``WORLD_SIZE`` > 1) the ranks already exist: this
    process trains as its rank, and ``cfg.nproc`` is ignored.
    """
    cfg = request.cfg
    device = check_trial(cfg, data)
    job = Job(request, data.class_counts())
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
        request.check_picklable()
        outputs = spawn_ranks(job, init, data, on_epoch, node_settings())
    return _result(outputs[0], request, data), outputs


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


def _result(out: RankOutput, request: TrainRequest, data: DataSplits) -> TrainResult:
    result = out.result
    if out.state_blob is not None:
        result.state_dict = torch.load(io.BytesIO(out.state_blob), weights_only=True)
    costs = _costs(request, result.state_dict, data) if dist_env().is_main else None
    return dataclasses.replace(result, costs=costs)


def _costs(request: TrainRequest, state: dict[str, torch.Tensor], data: DataSplits) -> Costs:
    """Measured here, in the caller's process and with its threads, as the plain trainer does."""
    with torch_threads(request.cfg.num_threads):
        with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
            model = request.build_model()
        model.load_state_dict(state)
        return measure_costs(model, data.input_shape, request.cfg.latency_repeats)
