"""Refit the chosen model on training + validation data, inside the time budget.

Choosing a candidate needs a validation split; the model that ships does not. When the search
ends, the trial ``automl export --trial best`` takes is trained again from scratch on training
and validation data together, with the trial's own learning-rate schedule, stopped after as
many epochs as its selected weights had trained, as AutoGluon's ``refit_full`` does, and the
last of them is kept; a trial that kept its fitted start (epoch 0) is refit as that fit alone,
no epoch trained (the reserve still counts one). The refit's validation samples are among those
it trains on, so no figure of theirs may choose its weights: chosen by them, the refit kept the
ridge start of rockets whose trials had kept a trained epoch, and lost up to 26 points on long-
tailed and noisy labels (benchmarks/RESULTS.md). On small data that is a quarter more data for
the model that ships. Only a network that fits its head in closed form is refit (rocket: its
biases and ridge head are fitted on all of it): on the suite such refits gained 1.2 points on
average (9 of 11 changed sets up), while networks trained by SGD alone, trained once more from
scratch, lost 1.2 (24 of 27 down: a new run's variance outweighs a quarter more data), so those
ship their searched weights. The test split takes no part, so the refit's test figure stands
beside the searched one.
``search.refit = false`` turns it off.

Time. With a timeout, every process of the search keeps back what the refit of the best
candidate so far would take (:class:`RefitReserve`: its training seconds scaled to train +
validation samples and to the epochs refit, with room to spare, at most :data:`RESERVE_SHARE` of
the timeout): the trials see that time as already gone (``Deadline.reserve``). The refit runs
only when the time left covers its estimate, and stops at the timeout; otherwise the search
says why, and ``best`` exports the searched weights. A contender's cross-validation may spend
the reserve: without its folds a contender lost the choice to a worse one that had them
(pickup_gesture, 86 % -> 56 %), which cost more than any refit gained.

What is stored: the weights as ``refit.safetensors`` beside the trial's ``model.safetensors``,
and the study config's key ``_refit`` (trial, epochs, samples, test figure), which export reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.storage.artifacts import REFIT_FILE, REFIT_KEY

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.data import PreparedData
    from automl.policy.budget import Deadline
    from automl.storage import Storage

RESERVE_SHARE = 0.25  # the most of a timeout kept back for the refit
OVERHEAD_S = 1.0  # building, fitting a start, evaluating: on top of the epochs
# The reserve is the estimate with room to spare: the search's last reads and the refit's own
# start come out of it too, and an estimate from one trial's timing is rough.
RESERVE_FACTOR, RESERVE_PAD_S = 1.5, 1.0


def refit_epochs(rec: Any) -> int:
    """The epochs a refit of ``rec`` trains, as the time estimate counts them: those its
    selected weights had, at least 1 (a refit of a kept start trains none; one is kept back)."""
    return max(1, int(rec.best_epoch or 0))


def estimate(rec: Any, n_train: int, n_val: int) -> float:
    """Seconds a refit of ``rec`` (a ``TrialRecord``) should take: its epochs, on train +
    validation samples, and the time its training call spent outside them, as it was. That
    lead (rocket's bias fit, the features of every series, the test split's scoring) covers
    the same series again: the trial transformed its training, validation and test series, the
    refit transforms training and validation as one, and the test split (scaling it by the
    samples too made a 52-series rocket's refit an estimated 23 s for 11 s of work)."""
    trained = max(1, int((rec.train_config or {}).get("epochs") or 1))
    per_epoch = float(rec.train_seconds or 0.0) / trained
    epochs = per_epoch * refit_epochs(rec) * (n_train + n_val) / max(1, n_train)
    return OVERHEAD_S + epochs + float(rec.lead_seconds or 0.0)


def _pays(rec: Any) -> bool:
    """Whether a refit of ``rec`` is made: its network fits its head in closed form (rocket's
    ridge), which more data improves; a network trained by SGD alone, trained once more from
    scratch, gained nothing on average (search_spaces.fitted_head)."""
    from search_spaces import arch_from_dict, fitted_head

    return rec.arch is not None and fitted_head(arch_from_dict(rec.arch))


def _best(cfg: StudyConfig, storage: Storage) -> Any:
    """The trial ``export --trial best`` takes (automl.policy.select.best_trial)."""
    from automl.config import cost_or_default
    from automl.policy.select import best_trial

    name = cfg.study.name
    return best_trial(storage.trials(name), cost_or_default(cfg.study.cost), name)


def _refit_arch(rec: Any) -> Any:
    """The spec a refit of ``rec`` trains. Its fit chooses again on train + validation what the
    trial's fit chose by its leave-one-out (rocket's ridge penalty and series view: on more
    data, better evidence; PickupGesture seed 1, 82 % with the trial's view, 90 % chosen
    again), as the trial's lead-in time, which the estimate holds, paid for. A trial with no
    leave-one-out (a class of one series) had no view to choose and paid one transform: its
    refit keeps its view (choosing, pulses52's refit ended 3.3 s after T)."""
    from search_spaces import arch_from_dict

    arch = arch_from_dict(rec.arch)
    return arch if rec.loo_accuracy is not None else _as_searched(arch, rec.artifact_path)


def _as_searched(arch: Any, weights: str) -> Any:
    """``arch`` with the choices its searched weights made in their fit (rocket's series view:
    ``search_spaces.as_fitted``), so that the refit repeats the trial on more data; ``arch``
    as it is when the weights cannot be read."""
    from safetensors.torch import load_file

    from search_spaces import as_fitted

    try:
        state = load_file(weights)
    except Exception:  # noqa: BLE001 - best effort: the refit then chooses again
        return arch
    return as_fitted(arch, state)


class RefitReserve:
    """A trial callback: after each completed trial, keep back the refit of the best so far."""

    def __init__(self, cfg: StudyConfig, storage: Storage, deadline: Deadline,
                 n_train: int, n_val: int) -> None:
        self.on = cfg.search.refit and deadline.timeout is not None
        self.cfg, self.storage, self.deadline = cfg, storage, deadline
        self.n_train, self.n_val = n_train, n_val

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not self.on or trial.state.name != "COMPLETE":
            return
        rec = _best(self.cfg, self.storage)  # the trial the refit will take, by its rule
        if not _pays(rec):
            self.deadline.reserve = 0.0
            return
        cap = RESERVE_SHARE * float(self.deadline.timeout or 0.0)
        need = estimate(rec, self.n_train, self.n_val)
        self.deadline.reserve = min(RESERVE_FACTOR * need + RESERVE_PAD_S, cap)


def refit_best(cfg: StudyConfig, storage: Storage, data: PreparedData, deadline: Deadline,
               train: Callable[..., Any] | None = None) -> str | None:
    """Refit the study's ``best`` trial (see the module docstring); returns a line for people
    (None: there was nothing to refit)."""
    from safetensors.torch import save_file

    from automl.control.crossval import default_train
    from automl.export.errors import ExportError
    from automl.export.retrain import train_config, train_plus_val
    from search_spaces import loss_from_dict

    name = cfg.study.name
    try:
        rec = _best(cfg, storage)
    except ExportError:
        return None  # no completed trial
    if not rec.artifact_path or rec.arch is None:
        return None
    if not _pays(rec):
        return (f"no refit: trial {rec.number}'s {rec.arch.get('kind')} is trained by SGD alone "
                "(such refits lost 1.2 points on average, benchmarks/RESULTS.md); best exports "
                "its searched weights")
    splits = data.splits
    need, left = estimate(rec, len(splits.y_train), len(splits.y_val)), deadline.left()
    if need > left:
        return (f"refit skipped: trial {rec.number} would need about {need:.0f} s on train + "
                f"validation, {max(left, 0.0):.0f} s left; best exports its searched weights")
    epochs = refit_epochs(rec)
    # The searched run's own schedule (its learning rate decays over all its epochs), stopped
    # at the epoch its weights were selected from: the same trajectory on more data.
    run_cfg = train_config(rec.train_config, latency_repeats=0)
    stop: list[int] = []

    def on_epoch(record: Any) -> bool:
        if deadline.left() <= 0 and record.epoch < epochs:
            stop.append(record.epoch)
        return bool(stop) or record.epoch >= epochs

    both = train_plus_val(splits)
    train = train or default_train()
    # The weights of the kept epoch count, or the kept fitted start alone (rocket's ridge, epoch
    # 0): its validation samples are trained on, so their figure cannot choose (RESULTS.md).
    start = rec.best_epoch == 0
    result = train(_refit_arch(rec), loss_from_dict(rec.loss), both, run_cfg,
                   on_epoch=on_epoch, keep="start" if start else "last")
    if stop:
        return (f"refit stopped at the timeout after epoch {stop[0]} of {epochs}; best exports "
                f"trial {rec.number}'s searched weights")
    epochs = 0 if start else epochs  # what was trained, for the record and the line below
    path = Path(rec.artifact_path).with_name(REFIT_FILE)
    save_file({k: v.contiguous() for k, v in result.state_dict.items()}, str(path))
    storage.set_study_value(name, REFIT_KEY, {
        "trial": rec.number, "epochs": epochs, "train_samples": int(len(both.y_train)),
        "seconds": round(float(result.train_seconds), 3),
        "test_accuracy": result.test_accuracy, "best_epoch": result.best_epoch,
        "test_per_class": data.by_class(result.test_per_class)})
    searched = "-" if rec.test_accuracy is None else f"{rec.test_accuracy:.4f}"
    return (f"refit trial {rec.number} on train + validation ({len(both.y_train)} samples, "
            f"{epochs} epochs, {result.train_seconds:.1f} s): test {result.test_accuracy:.4f} "
            f"(searched weights {searched}); best exports the refit")
