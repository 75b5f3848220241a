"""Train one candidate network in this process: set the run up, then hand it to the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainer.cost import measure_costs
from trainer.data import Batches, TensorSplits, accuracy
from trainer.env import dist_env
from trainer.factories import (
    LossFactory,
    ModelFactory,
    default_loss_factory,
    default_model_factory,
    set_checkpointing,
)
from trainer.loop import _train_loop
from trainer.optim import (
    autocast_factory,
    build_optimizer,
    check_trial,
    seed_everything,
)
from trainer.runtime import torch_threads
from trainer.types import (
    DataSplits,
    EpochCallback,
    EpochRecord,
    TrainConfig,
    TrainResult,
    best_val_loss,
)


def train(
    arch_spec: Any,
    loss_spec: Any,
    data: DataSplits,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    *,
    model_factory: ModelFactory | None = None,
    loss_factory: LossFactory | None = None,
) -> TrainResult:
    """Train ``model_factory(arch_spec)`` on ``data`` and return its best-validation weights.

    After every epoch ``on_epoch`` (rank 0 only) gets the :class:`EpochRecord`; returning True
    stops the run (``stopped_early``). The kept weights are those of the epoch with the best
    validation accuracy (on a tie, the later epoch); the test split is evaluated once, on them.
    ``costs`` holds parameters, FLOPs and CPU latency (``cfg.latency_repeats`` = 0 skips it).
    ``peak_memory_mb`` is a :class:`PeakMemoryMeter` reading over the first two optimizer steps
    (the steady state). The learning rate follows a cosine from ``cfg.lr`` towards 0 over all
    ``cfg.epochs`` (see :func:`trainer.optim.cosine_factor`); Python, NumPy and torch are
    seeded with ``cfg.seed`` before the model is built, so a spec and a seed fix the result.

    With ``cfg.nproc > 1`` (or in a process torchrun started, ``WORLD_SIZE`` > 1) the trial runs
    on several processes with DDP (:mod:`trainer.distributed`): ``on_epoch`` is still called
    here, in the calling thread, with metrics all-reduced over ranks; ``cfg.batch_size`` is the
    global batch; ``peak_memory_mb`` is the largest rank's peak; ``comm_bytes_per_step`` the
    gradient bytes all-reduced per step. ``model_factory`` / ``loss_factory`` are then pickled to
    the ranks and must be module-level functions. With one process ``zero`` and ``comm_hook``
    have nothing to act on and are ignored, and ``comm_bytes_per_step`` is None.

    Raises ``ValueError`` for an invalid config (fp16 without CUDA among others),
    :class:`NonFiniteLossError` when the loss diverges and :class:`TrialTimeoutError` past
    ``cfg.trial_timeout`` (from any rank), and :class:`DistributedTrialError` when a rank fails
    in any other way (its message names the rank and its exception).
    """
    if cfg.nproc > 1 or dist_env().world_size > 1:
        from trainer.distributed import train_distributed  # imports the elastic launcher

        return train_distributed(
            arch_spec, loss_spec, data, cfg, on_epoch,
            model_factory=model_factory, loss_factory=loss_factory,
        )  # fmt: skip
    device = check_trial(cfg, data)
    env = dist_env()
    with torch_threads(cfg.num_threads):
        seed_everything(cfg.seed)  # before building: the seed fixes the initial weights
        model = (model_factory or default_model_factory)(arch_spec)
        set_checkpointing(model, cfg.checkpointing)
        model.to(device)
        loss_fn = (loss_factory or default_loss_factory)(loss_spec, data.class_counts())
        loss_fn.to(device)
        splits = TensorSplits.from_numpy(data, device)
        outcome = _train_loop(
            model,
            loss_fn,
            build_optimizer(cfg, model.parameters()),
            splits,
            cfg,
            device,
            batches=Batches(len(splits.y_train), cfg.batch_size, cfg.seed, device),
            should_stop=_callback(on_epoch if env.is_main else None),
        )
        model.load_state_dict(outcome.best_state)
        autocast = autocast_factory(cfg.precision, device)
        test_accuracy = accuracy(
            model, splits.x_test, splits.y_test, cfg.eval_batch_size, autocast
        )
        costs = (
            measure_costs(model, data.input_shape, cfg.latency_repeats) if env.is_main else None
        )
    return TrainResult(
        val_accuracy=outcome.best_val,
        test_accuracy=test_accuracy,
        history=outcome.history,
        train_seconds=outcome.seconds,
        best_epoch=outcome.best_epoch,
        stopped_early=outcome.stopped_early,
        state_dict=outcome.best_state,
        peak_memory_mb=outcome.peak_memory_mb,
        costs=costs,
        val_loss=best_val_loss(outcome.history, outcome.best_epoch),
    )


def _callback(on_epoch: EpochCallback | None) -> Callable[[EpochRecord], bool]:
    if on_epoch is None:
        return lambda record: False
    return lambda record: bool(on_epoch(record))
