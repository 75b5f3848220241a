"""One trial: sample architecture + loss + hyperparameters together, answer a repeated candidate
from its stored result, check cost limits on the meta device, train (stopped early by
successive halving or the deadline), store. Optuna is touched here, in
:mod:`automl.control.loop` and in :mod:`automl.control.controller` only."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from automl.control import interrupts
from automl.control.cheap_start import START_ATTR, STRONG
from automl.control.crossval import TrainFn, default_train, score_contender
from automl.control.dedup import answer_repeat, candidate_key
from automl.control.loss_probes import PROBE
from automl.control.reporting import NullReporter, Reporter
from automl.control.rungs import rung_verdict
from automl.policy.budget import Deadline, LeadTimer
from automl.policy.limits import constraint_values, trial_memory, violation
from automl.policy.ranking import recent_accuracy
from automl.storage.candidates import CANDIDATE_ATTR

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.data import PreparedData
    from automl.policy.plan import StudyPlan
    from automl.storage import Storage
    from trainer import EpochRecord


class Objective:
    """Callable handed to the runner; returns (val_accuracy, cost) or val_accuracy."""

    def __init__(self, cfg: StudyConfig, data: PreparedData, storage: Storage,
                 reporter: Reporter | None = None, deadline: Deadline | None = None,
                 *, plan: StudyPlan, log_cost: bool = False,
                 train: TrainFn | None = None) -> None:
        """``plan``: the study's plan (:func:`automl.policy.plan.make_plan`, made once by the
        controller); ``train``: the training function, :func:`trainer.train` unless given
        (tests pass one with its contract to run the search's decisions without training)."""
        self.cfg, self.data, self.storage = cfg, data, storage
        self.reporter = reporter or NullReporter()
        self.study_name = cfg.study.name
        self.deadline = deadline or Deadline()
        self.log_cost = log_cost  # tell the sampler log10(cost) (see controller.open_study)
        self.plan = plan
        self.train_fn = train or default_train()

    def __call__(self, trial: optuna.Trial) -> float | Sequence[float]:
        try:
            return self._run(trial)
        except Exception as exc:
            import optuna

            if isinstance(exc, optuna.TrialPruned):
                raise
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
            trial.set_user_attr("reason", reason)
            self.storage.update_trial(self.study_name, trial.number, state="FAIL", reason=reason)
            raise

    def interrupted(self, trial: optuna.Trial) -> None:
        """Ctrl-C / SIGTERM during this trial: record why; the runner re-queues the candidate."""
        self.storage.update_trial(self.study_name, trial.number, state="FAIL",
                                  reason="interrupted")

    def _prune(self, trial: optuna.Trial, reason: str) -> NoReturn:
        import optuna

        trial.set_user_attr("reason", reason)
        self.storage.update_trial(self.study_name, trial.number, state="PRUNED", reason=reason)
        raise optuna.TrialPruned(reason)

    def _run(self, trial: optuna.Trial) -> float | Sequence[float]:
        from search_spaces import (
            LossRejected,
            arch_to_dict,
            loss_to_dict,
            sample_arch,
            sample_hparams,
            sample_loss,
        )

        cfg, number, splits = self.cfg, trial.number, self.data.splits
        trial.set_user_attr("val_samples", len(splits.y_val))
        trial.set_user_attr("class_counts", splits.class_counts())  # the losses' class prior
        # Architecture and loss are proposed together, in the same trial.
        arch = sample_arch(cfg.search.arch, trial, self.plan.info, cfg.search.arch_options)
        try:
            loss = sample_loss(cfg.search.loss, trial, self.plan.info, cfg.search.loss_options)
        except LossRejected as exc:  # a searched loss that cannot learn: never trained
            self._prune(trial, f"rejected loss: {exc}")
        hp = sample_hparams(cfg.search.hparams, trial, self.plan.hparam_options)
        loss_dict, arch_dict = loss_to_dict(loss), arch_to_dict(arch)
        train_cfg = dataclasses.replace(
            cfg.trainer, lr=hp.lr, weight_decay=hp.weight_decay, optimizer=hp.optimizer,
            batch_size=hp.batch_size, seed=cfg.study.seed + number, epochs=self.plan.epochs,
        )
        key = candidate_key(arch_dict, loss_dict, hp.to_dict(), dataclasses.asdict(train_cfg),
                            self.data.data_hash)
        rungs = self.plan.rungs
        epochs = self.deadline.epochs_for(self.plan.epochs, rungs[0] if rungs else 1)
        train_cfg = dataclasses.replace(train_cfg, epochs=epochs)
        self.storage.update_trial(
            self.study_name, number, state="RUNNING", arch_space=cfg.search.arch,
            arch=arch_dict, loss=loss_dict, loss_formula=loss.formula,
            loss_family=loss_dict.get("kind"), hparams=hp.to_dict(),
            train_config=dataclasses.asdict(train_cfg), preprocessing=self.data.preprocessing,
        )
        body = getattr(arch, "body", None)  # a table's encoder reads for this network
        kind = arch.kind if body is None else f"table/{body.kind}"
        self.reporter.trial_started(number, f"{kind} · {loss.formula}")
        repeat = answer_repeat(self.storage, self.cfg, trial, key,
                               lambda reason: self._prune(trial, reason))
        if repeat is not None:
            return repeat
        if not self.deadline.fits(kind):  # e.g. rocket's feature fit would pass T
            self._prune(trial, f"deadline: not started, {max(0, self.deadline.remaining()):.1f} s "
                        f"left, too little for {kind}'s start, one epoch and its end")
        costs = self._costs_before_training(trial, arch, train_cfg)
        lead = LeadTimer(self.deadline, kind)  # rocket's feature fit, the test's scoring
        result, stopped = self._train(trial, arch, loss, train_cfg, lead)
        took = lead.elapsed()  # the whole training call
        trial.set_user_attr("lead_seconds", round(max(0.0, took - result.train_seconds), 3))
        if not stopped:  # a fold costs what the whole call took
            self._cross_validate(trial, arch, loss, train_cfg, result, took)
        trial.set_user_attr("val_recent", recent_accuracy(result.history))
        return self._finish(trial, result, costs, key, stopped)

    def _costs_before_training(self, trial: optuna.Trial, arch: Any,
                               train_cfg: Any) -> dict[str, Any]:
        """Static costs and training memory on the meta device (milliseconds, no memory), then
        latency on a freshly built CPU copy; a candidate over a limit, or that cannot fit in
        memory, is pruned here, before any training."""
        import torch

        from search_spaces import build_model
        from trainer import measure_latency_ms, static_cost

        limits, number = self.cfg.limits, trial.number
        static = static_cost(arch)
        costs: dict[str, Any] = {"params": static.params, "flops": float(static.flops)}
        trial.set_user_attr("constraint", constraint_values(limits, costs))
        self.storage.update_trial(self.study_name, number, **costs)
        reason = violation(limits, costs)
        if reason:
            self._prune(trial, reason)
        estimate, reason = trial_memory(limits, arch, train_cfg, self.data.splits)
        if estimate is not None:
            trial.set_user_attr("memory_estimate_mb", round(estimate.total / 2**20, 3))
        if reason:  # the sampler is told of it as of a peak measured in training
            guess = {**costs, "peak_memory_mb": estimate.step_peak / 2**20}
            trial.set_user_attr("constraint", constraint_values(limits, guess))
            self._prune(trial, reason)
        with interrupts.interruptible(), torch.random.fork_rng():
            model = build_model(arch)
            costs["latency_ms"] = measure_latency_ms(
                model, tuple(arch.input_shape), repeats=self.cfg.trainer.latency_repeats
            )
        trial.set_user_attr("constraint", constraint_values(limits, costs))
        self.storage.update_trial(self.study_name, number, latency_ms=costs["latency_ms"])
        reason = violation(limits, costs)
        if reason:
            self._prune(trial, reason)
        return costs

    def _train(self, trial: optuna.Trial, arch: Any, loss: Any, train_cfg: Any,
               lead: LeadTimer) -> tuple[Any, str | None]:
        """Train; returns the result and why it stopped early (None: it ran every epoch)."""
        from trainer import DeadlineStop, NonFiniteLossError, TrialTimeoutError

        stop: list[str] = []
        # A loss probe, and a family's strong start, is a measured chance: trained in full,
        # never cut at a rung (the deadline still stops it).
        prunable = trial.user_attrs.get(START_ATTR) not in (PROBE, STRONG)

        def on_epoch(rec: EpochRecord) -> bool:
            lead.reported(rec.seconds)
            with interrupts.held():  # a signal waits for this epoch's writes
                out = epoch_done(rec)
            lead.handled()
            return out

        def epoch_done(rec: EpochRecord) -> bool:
            self.storage.add_epoch(self.study_name, trial.number, rec.epoch, rec.train_loss,
                                   rec.val_accuracy, rec.seconds, rec.val_loss)
            self.reporter.epoch_done(trial.number, rec, train_cfg.epochs)
            self.deadline.epoch_done(rec.seconds)
            if self.cfg.study.objective == "val_accuracy":
                trial.report(rec.val_accuracy, rec.epoch)
                if prunable and trial.should_prune():
                    stop.append(f"pruned by {self.cfg.study.pruner} at epoch {rec.epoch}")
            elif prunable and rec.epoch in self.plan.rungs and rec.epoch < train_cfg.epochs:
                reason = rung_verdict(self.storage, self.study_name, trial.number, rec.epoch,
                                      self.cfg.study.cost, self.plan.rungs)
                if reason:
                    stop.append(reason)
            late = lead.training_left() <= 0  # its lead-out would pass T
            if not stop and late and rec.epoch < train_cfg.epochs:
                stop.append(f"deadline: stopped after epoch {rec.epoch} of {train_cfg.epochs}")
            return bool(stop)

        # Latency was measured before training (for the limits); don't pay for it twice.
        run_cfg = dataclasses.replace(train_cfg, latency_repeats=0)
        left = lead.training_left()  # a long epoch stops at a batch boundary
        stop_at = None if math.isinf(left) else time.time() + left
        try:
            with interrupts.interruptible():  # Ctrl-C stops training at once
                result = self.train_fn(arch, loss, self.data.splits, run_cfg,
                                       on_epoch=on_epoch, stop_at=stop_at)
        except DeadlineStop as exc:
            self._prune(trial, f"deadline: {exc}")
        except NonFiniteLossError as exc:
            self._prune(trial, f"non-finite loss: {exc}")
        except TrialTimeoutError as exc:
            self._prune(trial, f"trial timeout: {exc}")
        cut = not stop and result.stopped_early  # stop_at ended an epoch under way
        lead.ended(cut)
        if cut:
            stop.append(f"deadline: stopped in epoch {len(result.history) + 1} of "
                        f"{train_cfg.epochs}")
        if stop and not stop[0].startswith("deadline"):
            trial.set_user_attr("val_best", result.val_accuracy)  # evidence for the family race
            self._prune(trial, stop[0])
        return result, (stop[0] if stop else None)

    def _cross_validate(self, trial: optuna.Trial, arch: Any, loss: Any, train_cfg: Any,
                        result: Any, took: float) -> None:
        """k-fold scores for a contender on small data (see :mod:`automl.policy.crossval`)."""
        k = self.plan.cv_folds
        if not k:
            return
        why: list[str] = []
        with interrupts.interruptible():  # k trainings; its reads are harmless to cut short
            score = score_contender(
                self.storage, self.study_name, self.data.splits, result.val_accuracy, arch,
                # The refit's reserve is open to a contender's folds: a choice made without
                # them cost more than a refit (benchmarks/RESULTS.md, issue 21).
                loss, train_cfg, k, keep_going=lambda: self.deadline.left() > 0,
                on_start=lambda: self.reporter.trial_started(
                    trial.number, f"{k}-fold cross-validation"),
                seconds_per_fold=took, seconds_left=self.deadline.left(),
                train=self.train_fn, why=why)
        for name, value in dataclasses.asdict(score).items() if score else ():
            trial.set_user_attr(f"cv_{name}", value)
        if why:  # a contender without folds: which evidence is missing, and why
            trial.set_user_attr("cv_skipped", why[0])

    def _finish(self, trial: optuna.Trial, result: Any, costs: dict[str, Any], key: str,
                stopped: str | None) -> float | Sequence[float]:
        """Store a trained candidate. ``stopped`` (the deadline's reason) keeps it, but never
        reused for a later repeat of the same candidate ``key``."""
        from safetensors.torch import save_file

        number = trial.number
        costs["peak_memory_mb"] = result.peak_memory_mb
        costs["comm_bytes_per_step"] = result.comm_bytes_per_step
        trial.set_user_attr("constraint", constraint_values(self.cfg.limits, costs))
        reason = violation(self.cfg.limits, costs)  # peak memory is only known after training
        if reason:
            self.storage.update_trial(self.study_name, number, **costs)
            self._prune(trial, reason)
        folder, rel = self.storage.artifact_dir(self.study_name, number)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.safetensors"
        save_file({k: v.contiguous() for k, v in result.state_dict.items()}, str(path))
        if stopped is not None:
            trial.set_user_attr("reason", stopped)
        self.storage.update_trial(
            self.study_name, number, state="COMPLETE", val_accuracy=result.val_accuracy,
            val_loss=result.val_loss, test_accuracy=result.test_accuracy,
            train_seconds=result.train_seconds, reason=stopped,
            best_epoch=result.best_epoch, artifact_path=f"{rel}/{path.name}", **costs,
        )
        trial.set_user_attr("test_accuracy", result.test_accuracy)  # in study.metric
        if result.loo_accuracy is not None:  # rocket's ridge start, scored leave-one-out
            trial.set_user_attr("loo_accuracy", result.loo_accuracy)
            trial.set_user_attr("loo_samples", result.loo_samples)
        trial.set_user_attr("test_per_class", self.data.by_class(result.test_per_class))
        if stopped is None:
            trial.set_user_attr(CANDIDATE_ATTR, key)
        if self.cfg.study.objective == "val_accuracy":
            return result.val_accuracy
        cost = costs.get(self.cfg.study.cost)
        if cost is None:
            raise RuntimeError(f"cost {self.cfg.study.cost!r} was not measured for this trial")
        trial.set_user_attr("cost", float(cost))
        return result.val_accuracy, self.told_cost(float(cost))

    def told_cost(self, cost: float) -> float:
        """The cost objective as the sampler sees it."""
        return math.log10(max(cost, 1e-12)) if self.log_cost else cost
