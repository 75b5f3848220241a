"""One trial: sample architecture + loss + hyperparameters together, check cost limits on the
meta device, train, store. Optuna is touched here and in :mod:`automl.controller` only."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from automl.limits import constraint_values, violation

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.data import PreparedData
    from automl.storage import Storage
    from trainer import EpochRecord


class Reporter(Protocol):
    """What the controller tells a progress display (all methods optional no-ops)."""

    def trial_started(self, number: int, summary: str) -> None: ...
    def epoch_done(self, number: int, record: EpochRecord, epochs: int) -> None: ...


class NullReporter:
    def trial_started(self, number: int, summary: str) -> None:
        pass

    def epoch_done(self, number: int, record: EpochRecord, epochs: int) -> None:
        pass


class Objective:
    """Callable handed to ``study.optimize``; returns (val_accuracy, cost) or val_accuracy."""

    def __init__(self, cfg: StudyConfig, data: PreparedData, storage: Storage,
                 reporter: Reporter | None = None) -> None:
        self.cfg = cfg
        self.data = data
        self.storage = storage
        self.reporter = reporter or NullReporter()
        self.study_name = cfg.study.name

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

    def _prune(self, trial: optuna.Trial, reason: str) -> None:
        import optuna

        trial.set_user_attr("reason", reason)
        self.storage.update_trial(self.study_name, trial.number, state="PRUNED", reason=reason)
        raise optuna.TrialPruned(reason)

    def _run(self, trial: optuna.Trial) -> float | Sequence[float]:
        from search_spaces import (
            InputInfo,
            arch_to_dict,
            loss_to_dict,
            sample_arch,
            sample_hparams,
            sample_loss,
        )

        cfg, splits, number = self.cfg, self.data.splits, trial.number
        info = InputInfo(shape=splits.input_shape, num_classes=splits.num_classes)
        # Architecture and loss are proposed together, in the same trial.
        arch = sample_arch(cfg.search.arch, trial, info, cfg.search.arch_options)
        loss = sample_loss(cfg.search.loss, trial, info, cfg.search.loss_options)
        hp = sample_hparams(cfg.search.hparams, trial, cfg.search.hparam_options)
        loss_dict = loss_to_dict(loss)
        train_cfg = dataclasses.replace(
            cfg.trainer, lr=hp.lr, weight_decay=hp.weight_decay, optimizer=hp.optimizer,
            batch_size=hp.batch_size, seed=cfg.study.seed + number,
        )
        self.storage.update_trial(
            self.study_name, number, state="RUNNING", arch_space=cfg.search.arch,
            arch=arch_to_dict(arch), loss=loss_dict, loss_formula=loss.formula,
            loss_family=loss_dict.get("kind"), hparams=hp.to_dict(),
            train_config=dataclasses.asdict(train_cfg), preprocessing=self.data.preprocessing,
        )
        self.reporter.trial_started(number, f"{arch.kind} · {loss.formula}")

        costs = self._costs_before_training(trial, arch)
        result = self._train(trial, arch, loss, train_cfg)
        return self._finish(trial, result, costs)

    def _costs_before_training(self, trial: optuna.Trial, arch: Any) -> dict[str, Any]:
        """Static costs on the meta device (milliseconds, no memory), then latency on a freshly
        built CPU copy; a candidate over a limit is pruned here, before any training."""
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
        with torch.random.fork_rng():
            model = build_model(arch)
        costs["latency_ms"] = measure_latency_ms(
            model, tuple(arch.input_shape), repeats=self.cfg.trainer.latency_repeats
        )
        del model
        trial.set_user_attr("constraint", constraint_values(limits, costs))
        self.storage.update_trial(self.study_name, number, latency_ms=costs["latency_ms"])
        reason = violation(limits, costs)
        if reason:
            self._prune(trial, reason)
        return costs

    def _train(self, trial: optuna.Trial, arch: Any, loss: Any, train_cfg: Any) -> Any:
        from trainer import NonFiniteLossError, TrialTimeoutError, train

        single = self.cfg.study.objective == "val_accuracy"
        pruned_at: list[int] = []

        def on_epoch(rec: EpochRecord) -> bool:
            self.storage.add_epoch(self.study_name, trial.number, rec.epoch, rec.train_loss,
                                   rec.val_accuracy, rec.seconds, rec.val_loss)
            self.reporter.epoch_done(trial.number, rec, train_cfg.epochs)
            if single:
                trial.report(rec.val_accuracy, rec.epoch)
                if trial.should_prune():
                    pruned_at.append(rec.epoch)
                    return True
            return False

        # Latency was measured before training (for the limits); don't pay for it twice.
        run_cfg = dataclasses.replace(train_cfg, latency_repeats=0)
        try:
            result = train(arch, loss, self.data.splits, run_cfg, on_epoch=on_epoch)
        except NonFiniteLossError as exc:
            self._prune(trial, f"non-finite loss: {exc}")
        except TrialTimeoutError as exc:
            self._prune(trial, f"trial timeout: {exc}")
        if pruned_at:
            self._prune(trial, f"pruned by {self.cfg.study.pruner} at epoch {pruned_at[0]}")
        return result

    def _finish(self, trial: optuna.Trial, result: Any, costs: dict[str, Any]
                ) -> float | Sequence[float]:
        from safetensors.torch import save_file

        number = trial.number
        costs["peak_memory_mb"] = result.peak_memory_mb
        costs["comm_bytes_per_step"] = result.comm_bytes_per_step
        trial.set_user_attr("constraint", constraint_values(self.cfg.limits, costs))
        reason = violation(self.cfg.limits, costs)  # peak memory is only known after training
        if reason:
            self.storage.update_trial(self.study_name, number, **costs)
            self._prune(trial, reason)
        folder = self.storage.artifact_dir(self.study_name, number)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.safetensors"
        save_file({k: v.contiguous() for k, v in result.state_dict.items()}, str(path))
        self.storage.update_trial(
            self.study_name, number, state="COMPLETE", val_accuracy=result.val_accuracy,
            val_loss=result.val_loss, test_accuracy=result.test_accuracy,
            train_seconds=result.train_seconds,
            best_epoch=result.best_epoch, artifact_path=str(path), **costs,
        )
        trial.set_user_attr("test_accuracy", result.test_accuracy)
        if self.cfg.study.objective == "val_accuracy":
            return result.val_accuracy
        cost = costs.get(self.cfg.study.cost)
        if cost is None:
            raise RuntimeError(f"cost {self.cfg.study.cost!r} was not measured for this trial")
        return result.val_accuracy, float(cost)

