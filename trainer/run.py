"""``train``: one candidate on this process, or on several through :mod:`trainer.distributed`."""

from __future__ import annotations

from typing import Any

from trainer.core import TrainRequest, fit
from trainer.cost import measure_costs
from trainer.data import TensorSplits
from trainer.env import dist_env
from trainer.factories import LossFactory, ModelFactory
from trainer.optim import check_trial
from trainer.runtime import torch_threads
from trainer.strategy import Strategy
from trainer.types import DataSplits, EpochCallback, TrainConfig, TrainResult

KEEPS = ("best", "start", "last")  # the weights train() can keep


def train(
    arch_spec: Any,
    loss_spec: Any,
    data: DataSplits,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    *,
    model_factory: ModelFactory | None = None,
    loss_factory: LossFactory | None = None,
    stop_at: float | None = None,
    keep: str = "best",
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

    ``stop_at`` (a ``time.time()`` reading, e.g. a search's deadline): training stops at the
    first batch boundary after it, keeping the best epoch so far (``stopped_early``; the epoch
    under way is dropped), and raises :class:`DeadlineStop` if no epoch had ended.

    ``keep``: which weights are kept. ``"best"`` (the default): those of the best validation
    epoch, as above. ``"start"``: a model whose start is scored as epoch 0 (one with
    ``fit_to_data``, such as rocket's ridge head) is fitted, scored and returned as it is, with
    no epoch trained (``history`` empty, ``best_epoch`` 0); ignored for a model without one.
    ``"last"``: the last epoch trained, whatever its validation figure. The last two are for a
    refit on training + validation data, whose validation figure is no longer held out.

    Raises ``ValueError`` for an invalid config (fp16 without CUDA among others),
    :class:`NonFiniteLossError` when the loss diverges and :class:`TrialTimeoutError` past
    ``cfg.trial_timeout`` (from any rank), and :class:`DistributedTrialError` when a rank fails
    in any other way (its message names the rank and its exception).
    """
    if keep not in KEEPS:
        raise ValueError(f"keep: {keep!r} is not one of {', '.join(KEEPS)}")
    request = TrainRequest(arch_spec, loss_spec, cfg, model_factory, loss_factory, stop_at, keep)
    if cfg.nproc > 1 or dist_env().world_size > 1:
        from trainer.distributed import launch_trial  # imports the elastic launcher

        return launch_trial(request, data, on_epoch)[0]
    return train_here(request, data, on_epoch)


def train_here(
    request: TrainRequest, data: DataSplits, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """:func:`train` in this process alone (``cfg.nproc`` is not consulted)."""
    cfg = request.cfg
    device = check_trial(cfg, data)
    main = dist_env().is_main  # only the main rank reports and measures
    with torch_threads(cfg.num_threads):
        splits = TensorSplits.from_numpy(data, device)
        counts = data.class_counts()
        fitted = fit(request, splits, counts, device, Strategy(), on_epoch if main else None)
        shape, repeats = data.input_shape, cfg.latency_repeats
        costs = measure_costs(fitted.model, shape, repeats) if main else None
    return fitted.result(costs)
