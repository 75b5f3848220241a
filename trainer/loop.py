"""The epoch loop shared by the single-process and the distributed trainer.

``_train_loop`` knows nothing about how the model was built or wrapped: ``trainer.run.train``
passes a plain model; the distributed trainer passes a DDP-wrapped one, its own sharded
``batches``, a ``sync_context`` that skips the all-reduce on non-final micro-batches, a
``should_stop`` that broadcasts rank 0's decision, the unwrapped ``state_module``, its shard of
the validation split, ``reduce_sums`` (an all-reduce of the epoch's loss and hit counts) and
``before_eval`` (makes the ranks' buffers agree before they evaluate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from trainer.augment import augment
from trainer.data import Batches, TensorSplits, evaluate
from trainer.errors import TrialTimeoutError
from trainer.memory import PeakMemoryMeter
from trainer.optim import autocast_factory, build_scheduler, make_grad_scaler
from trainer.step import optimizer_step
from trainer.types import EpochRecord, TrainConfig

# Memory is measured over the first optimizer steps only: step 1 creates the optimizer state,
# step 2 runs with everything in place, and every later step repeats it. Measuring the whole
# run on CPU would slow every op down (see trainer/memory.py).
MEMORY_PROBE_STEPS = 2


@dataclass
class LoopOutcome:
    """What the epochs produced; ``best_state`` holds CPU copies of the kept weights."""

    history: list[EpochRecord]
    best_epoch: int
    best_val: float
    best_state: dict[str, torch.Tensor]
    stopped_early: bool
    seconds: float
    peak_memory_mb: float | None


def _train_loop(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: TensorSplits,
    cfg: TrainConfig,
    device: torch.device,
    *,
    batches: Batches,
    should_stop: Callable[[EpochRecord], bool],
    sync_context: Callable[[bool], AbstractContextManager[object]] | None = None,
    state_module: nn.Module | None = None,
    reduce_sums: Callable[[list[float]], list[float]] | None = None,
    before_eval: Callable[[], None] | None = None,
) -> LoopOutcome:
    """Run up to ``cfg.epochs`` epochs of training + validation; keep the best weights.

    ``state_module`` is the module whose weights are kept and evaluated (the unwrapped model
    under DDP: evaluating through the wrapper would start collectives on unequal shards);
    ``sync_context(is_last_micro_batch)`` wraps each micro-batch's forward and backward;
    ``reduce_sums([loss_sum, samples, hits, val_samples, val_nll])`` totals them over ranks.
    """
    state_module = state_module or model
    autocast = autocast_factory(cfg.precision, device)
    scaler = make_grad_scaler(cfg.precision, device)
    scheduler = build_scheduler(optimizer, cfg.epochs * batches.steps_per_epoch)
    meter = PeakMemoryMeter(device, resident=_state_tensors(model, loss_fn))
    history: list[EpochRecord] = []
    best_val, best_epoch, best_state = float("-inf"), 0, {}
    stopped_early = False
    start = time.perf_counter()
    step = 0
    optimizer.zero_grad(set_to_none=True)
    for epoch in range(1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        loss_sum, seen = 0.0, 0
        for idx, loss_scale in batches.scaled(epoch):
            step += 1
            elapsed = time.perf_counter() - start
            if cfg.trial_timeout is not None and elapsed > cfg.trial_timeout:
                raise TrialTimeoutError(cfg.trial_timeout, elapsed, epoch, step)
            with meter if step <= MEMORY_PROBE_STEPS else nullcontext():
                loss_sum += optimizer_step(
                    model,
                    loss_fn,
                    optimizer,
                    scaler,
                    augment(data.x_train[idx], cfg.augment),
                    data.y_train[idx],
                    grad_accum=cfg.grad_accum,
                    autocast=autocast,
                    sync_context=sync_context,
                    epoch=epoch,
                    step=step,
                    loss_scale=loss_scale,
                )
            scheduler.step()
            seen += len(idx)
        if before_eval is not None:
            before_eval()
        hits, nll = evaluate(state_module, data.x_val, data.y_val, cfg.eval_batch_size, autocast)
        sums = [loss_sum, float(seen), float(hits), float(len(data.y_val)), nll]
        loss_total, samples, hits_total, val_n, nll_total = (
            reduce_sums(sums) if reduce_sums else sums
        )
        val = hits_total / val_n
        record = EpochRecord(epoch, loss_total / samples, val, time.perf_counter() - epoch_start,
                             val_loss=nll_total / val_n)
        history.append(record)
        if val >= best_val:  # ties go to the later, longer-trained epoch
            best_val, best_epoch, best_state = val, epoch, _cpu_state(state_module)
        if should_stop(record):
            stopped_early = True
            break
    return LoopOutcome(
        history=history,
        best_epoch=best_epoch,
        best_val=best_val,
        best_state=best_state,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - start,
        peak_memory_mb=meter.peak_mb if step else None,
    )


def _state_tensors(*modules: nn.Module) -> list[torch.Tensor]:
    return [t for m in modules for t in (*m.parameters(), *m.buffers())]


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
