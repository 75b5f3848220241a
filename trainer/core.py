"""One candidate's training, the same on one process and on every rank of a DDP trial.

:class:`TrainRequest` is what a ``train`` call asks for (it travels to the ranks);
:func:`fit` builds the model, trains it with :func:`trainer.loop.train_loop` and scores the kept
weights. What differs between one process and DDP is the :class:`~trainer.strategy.Strategy`.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from trainer.data import TensorSplits, evaluate
from trainer.factories import (
    LossFactory,
    ModelFactory,
    default_loss_factory,
    default_model_factory,
    set_checkpointing,
)
from trainer.loop import LoopOutcome, Replica, train_loop
from trainer.metrics import Tallies
from trainer.optim import autocast_factory, seed_everything
from trainer.strategy import Strategy
from trainer.types import Costs, EpochCallback, TrainConfig, TrainResult, best_val_loss

# Ranks other than 0 reseed after the model is built: dropout masks must differ between ranks,
# and rank 0 keeps the single-process random stream (so one rank == the plain trainer).
RANK_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class TrainRequest:
    """The candidate and how to train it: ``train``'s arguments but the data and callback."""

    arch_spec: Any
    loss_spec: Any
    cfg: TrainConfig
    model_factory: ModelFactory | None = None  # None: search_spaces.build_model
    loss_factory: LossFactory | None = None  # None: search_spaces.build_loss
    stop_at: float | None = None  # a time.time() at which training stops (see train_loop)
    keep: str = "best"  # which weights training keeps: best, start or last (see train)

    def build_model(self) -> nn.Module:
        return (self.model_factory or default_model_factory)(self.arch_spec)

    def check_picklable(self) -> None:
        """Fail in the caller, with the reason, rather than in every spawned rank."""
        for name in ("model_factory", "loss_factory", "arch_spec", "loss_spec"):
            value = getattr(self, name)
            try:
                pickle.dumps(value)
            except Exception as exc:
                raise TypeError(
                    f"{name} must be picklable when a trial runs on several processes (a "
                    f"module-level function, not a lambda or closure); got {value!r}: {exc}"
                ) from None


@dataclass
class Fitted:
    """A trained model (holding the kept weights) and its metrics, reduced over ranks."""

    model: nn.Module
    outcome: LoopOutcome
    test_accuracy: float  # in cfg.metric
    peak_memory_mb: float | None  # the largest rank's peak: what each device must hold
    test_per_class: list[float | None] | None = None  # accuracy on each class's test samples
    # the start's own held-out figure (rocket's ridge: leave-one-out) and its sample count
    loo: tuple[float, int] | None = None

    def result(
        self, costs: Costs | None = None, comm_bytes_per_step: float | None = None
    ) -> TrainResult:
        out = self.outcome
        return TrainResult(
            val_accuracy=out.best_val,
            test_accuracy=self.test_accuracy,
            test_per_class=self.test_per_class,
            history=out.history,
            train_seconds=out.seconds,
            best_epoch=out.best_epoch,
            stopped_early=out.stopped_early,
            state_dict=out.best_state,
            peak_memory_mb=self.peak_memory_mb,
            comm_bytes_per_step=comm_bytes_per_step,
            costs=costs,
            loo_accuracy=self.loo[0] if self.loo else None,
            loo_samples=self.loo[1] if self.loo else None,
            val_loss=best_val_loss([*([out.start] if out.start else []), *out.history],
                                   out.best_epoch),
        )


def fit(
    request: TrainRequest,
    splits: TensorSplits,
    class_counts: list[int],
    device: torch.device,
    strategy: Strategy,
    on_epoch: EpochCallback | None,
) -> Fitted:
    """Build, train and test ``request``'s model on ``device``; ``on_epoch`` on rank 0 only."""
    cfg = request.cfg
    seed_everything(cfg.seed)  # before building: the seed fixes the initial weights
    model = request.build_model()
    set_checkpointing(model, cfg.checkpointing)
    model.to(device)
    prepare = getattr(model, "fit_to_data", None)  # a data-dependent initialisation, if any
    held_out = prepare(splits.x_train, splits.y_train) if callable(prepare) else None
    if strategy.rank:
        torch.manual_seed(cfg.seed + RANK_SEED_STRIDE * strategy.rank)
    loss_fn = (request.loss_factory or default_loss_factory)(request.loss_spec, class_counts)
    loss_fn.to(device)
    replica = Replica(strategy.wrap(model, cfg, device), model, loss_fn,
                      strategy.optimizer(cfg, model), len(class_counts))
    shard = strategy.shard
    local = replace(
        splits, x_val=shard(splits.x_val), y_val=shard(splits.y_val),
        x_test=shard(splits.x_test), y_test=shard(splits.y_test),
    )  # fmt: skip
    # keep "start": the start is scored as epoch 0 and no epoch follows (see trainer.train).
    start_only = request.keep == "start" and callable(prepare)
    outcome = train_loop(replica, local, replace(cfg, epochs=0) if start_only else cfg, device,
                         strategy, on_epoch, score_start=callable(prepare),
                         stop_at=request.stop_at, keep_last=request.keep == "last")
    model.load_state_dict(outcome.best_state)
    autocast = autocast_factory(cfg.precision, device)
    tallies, _ = evaluate(model, local.x_test, local.y_test, cfg.eval_batch_size, autocast,
                          len(class_counts))
    test = Tallies.from_flat(strategy.reduce(tallies.flat()))
    local_peak = outcome.peak_memory_mb
    (peak,) = strategy.reduce([-1.0 if local_peak is None else local_peak], op="max")
    return Fitted(
        model=model,
        outcome=outcome,
        test_accuracy=test.score(cfg.metric),
        test_per_class=test.per_class_accuracy(),
        peak_memory_mb=None if peak < 0 else peak,
        loo=_loo_score(held_out, len(class_counts), cfg.metric),
    )


def _loo_score(held_out: Any, num_classes: int, metric: str) -> tuple[float, int] | None:
    """``metric`` of a fitted start's held-out evidence ``(pred, target)``, and its size; None
    where a class has a single sample (``search_spaces.arch.net.has_lone_class``)."""
    if held_out is None or not len(held_out[1]):
        return None
    from search_spaces.arch.net import has_lone_class

    if has_lone_class(held_out[1]):
        return None
    pred, target = (t.detach().cpu().numpy() for t in held_out[:2])
    return Tallies.of(pred, target, num_classes).score(metric), len(target)
