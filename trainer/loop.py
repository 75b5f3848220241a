"""The epoch loop shared by the single-process and the distributed trainer.

``train_loop`` knows nothing about how the model was built or wrapped: it trains a
:class:`Replica` and asks the :class:`~trainer.strategy.Strategy` for this process's batches,
how each micro-batch synchronises gradients, how the epoch's sums are reduced over ranks, and
which stop decision all ranks follow.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from trainer.augment import augment
from trainer.data import TensorSplits, evaluate
from trainer.errors import DeadlineStop, TrialTimeoutError
from trainer.memory import PeakMemoryMeter
from trainer.metrics import Tallies
from trainer.optim import autocast_factory, build_scheduler, make_grad_scaler
from trainer.step import optimizer_step
from trainer.strategy import Strategy
from trainer.types import EpochCallback, EpochRecord, TrainConfig

# Memory is measured over the first optimizer steps only: step 1 creates the optimizer state,
# step 2 runs with everything in place, and every later step repeats it. Measuring the whole
# run on CPU would slow every op down (see trainer/memory.py).
MEMORY_PROBE_STEPS = 2
AGREE_EVERY = 16  # steps between the ranks' agreement on a deadline stop (one tiny all-reduce)


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
    start: EpochRecord | None = None  # the scored start (epoch 0), when the model had one


@dataclass
class _Kept:
    """The weights training keeps: the best validation epoch, ties going to the later, longer
    trained one, except against a scored start (epoch 0), which an epoch must beat."""

    val: float = float("-inf")
    epoch: int = 0
    state: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    start: EpochRecord | None = None
    # Keep the last trained epoch whatever its figure: a refit's validation samples are among
    # those it trains on, so its figure cannot choose (see trainer.train's ``keep``).
    last: bool = False

    def begin(self, start: EpochRecord, module: nn.Module) -> None:
        """Keep the scored start: SGD from a closed-form head can end below it (rocket's ridge
        fit, the specialist's own classifier), so training must never make it worse."""
        self.offer(start, module)
        self.start = start

    def outcome(self, history: list[EpochRecord], stopped: bool, start: float,
                peak: float | None) -> LoopOutcome:
        return LoopOutcome(history, self.epoch, self.val, self.state, stopped,
                           time.perf_counter() - start, peak, self.start)

    def offer(self, record: EpochRecord, module: nn.Module) -> None:
        tie_wins = self.epoch > 0 or self.start is None
        better = record.val_accuracy > self.val or (record.val_accuracy == self.val and tie_wins)
        if better or (self.last and record.epoch > 0):
            self.val, self.epoch = record.val_accuracy, record.epoch
            self.state = _cpu_state(module)


@dataclass
class Replica:
    """What one process trains: ``model`` runs the training forward pass (the DDP wrapper
    under DDP); ``module`` is the plain network whose weights are kept and evaluated
    (evaluating through the wrapper would start collectives on unequal shards)."""

    model: nn.Module
    module: nn.Module
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    num_classes: int  # the tallies' length on every rank, whatever its shard holds


def train_loop(replica: Replica, data: TensorSplits, cfg: TrainConfig, device: torch.device,
               strategy: Strategy, on_epoch: EpochCallback | None = None, keep_last: bool = False,
               score_start: bool = False, stop_at: float | None = None) -> LoopOutcome:
    """Run up to ``cfg.epochs`` epochs of training + validation; keep the best weights.

    ``data`` holds this process's validation shard; every rank reduces
    ``[loss_sum, samples, hits, val_samples, val_nll]`` with the strategy. ``on_epoch``
    (rank 0's, None elsewhere) gets each reduced record; the ranks follow its stop decision.
    ``score_start``: the weights before training (a fitted start) compete as epoch 0.
    ``stop_at``: past this ``time.time()``, stop at the next batch boundary (see :func:`_late`),
    dropping the epoch under way; :class:`DeadlineStop` when no epoch (or start) is kept;
    ``keep_last``: the last epoch is kept, not the best (:class:`_Kept`)."""
    model, optimizer = replica.model, replica.optimizer
    batches = strategy.batches(len(data.y_train), cfg, device)
    autocast = autocast_factory(cfg.precision, device)
    scaler = make_grad_scaler(cfg.precision, device)
    scheduler = build_scheduler(optimizer, cfg.epochs * batches.steps_per_epoch)
    meter = PeakMemoryMeter(device, resident=_state_tensors(model, replica.loss_fn))
    history: list[EpochRecord] = []
    kept = _Kept(last=keep_last)
    if score_start:
        kept.begin(_validate(replica, data, cfg, strategy, autocast, 0, [0.0, 1.0]),
                   replica.module)
    stopped_early, start, step = False, time.perf_counter(), 0
    optimizer.zero_grad(set_to_none=True)
    # A loss that changes over training (deferred re-weighting) hears of each epoch.
    set_epoch = getattr(replica.loss_fn, "set_epoch", lambda epoch, epochs: None)
    for epoch in range(1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        set_epoch(epoch, cfg.epochs)  # the candidate's own (adapted) epoch count
        loss_sum, seen = 0.0, 0
        for idx, loss_scale in batches.scaled(epoch):
            if stop_at is not None and _late(stop_at, step, strategy):
                if not kept.state:
                    raise DeadlineStop(epoch, step)
                return kept.outcome(history, True, start, meter.peak_mb if step else None)
            step += 1
            elapsed = time.perf_counter() - start
            if cfg.trial_timeout is not None and elapsed > cfg.trial_timeout:
                raise TrialTimeoutError(cfg.trial_timeout, elapsed, epoch, step)
            with meter if step <= MEMORY_PROBE_STEPS else nullcontext():
                loss_sum += optimizer_step(
                    model, replica.loss_fn, optimizer, scaler,
                    augment(data.x_train[idx], cfg.augment), data.y_train[idx],
                    grad_accum=cfg.grad_accum, autocast=autocast, sync_context=strategy.sync,
                    epoch=epoch, step=step, loss_scale=loss_scale,
                )  # fmt: skip
            scheduler.step()
            seen += len(idx)
        record = _validate(replica, data, cfg, strategy, autocast, epoch, [loss_sum, seen])
        record = dataclasses.replace(record, seconds=time.perf_counter() - epoch_start)
        history.append(record)
        kept.offer(record, replica.module)
        # Rank 0 alone asks the caller; every rank follows its answer, so no rank can stop
        # (prune) while the others wait in the next all-reduce.
        if strategy.agree(bool(on_epoch(record)) if on_epoch is not None else False):
            stopped_early = True
            break
    return kept.outcome(history, stopped_early, start, meter.peak_mb if step else None)


def _late(stop_at: float, step: int, strategy: Strategy) -> bool:
    """Whether the ranks stop before this step: rank 0's clock, every step on one process and
    every AGREE_EVERY steps (the same steps on every rank) on several."""
    if strategy.world_size == 1:
        return time.time() > stop_at
    return step % AGREE_EVERY == 0 and strategy.agree(time.time() > stop_at)


def _validate(
    replica: Replica,
    data: TensorSplits,
    cfg: TrainConfig,
    strategy: Strategy,
    autocast: Callable[[], AbstractContextManager[object]],
    epoch: int,
    train_sums: list[float],
) -> EpochRecord:
    """The epoch's record (``seconds`` left 0) from ``[loss_sum, samples]`` of its training and
    this rank's validation shard, both reduced over the ranks; its validation figure is
    ``cfg.metric`` (accuracy unless told otherwise)."""
    strategy.before_eval()
    tallies, nll = evaluate(replica.module, data.x_val, data.y_val, cfg.eval_batch_size,
                            autocast, replica.num_classes)
    loss_total, samples, nll_total, *counts = strategy.reduce([*train_sums, nll,
                                                               *tallies.flat()])
    whole = Tallies.from_flat(counts)
    return EpochRecord(epoch, loss_total / samples, whole.score(cfg.metric), 0.0,
                       nll_total / whole.samples)


def _state_tensors(*modules: nn.Module) -> list[torch.Tensor]:
    return [t for m in modules for t in (*m.parameters(), *m.buffers())]


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
