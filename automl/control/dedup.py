"""A candidate's identity: the content hash that tells a repeated proposal from a new one, and
the answer a repeat gets from the stored result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import optuna

    from automl.config import StudyConfig
    from automl.storage import Storage

DUPLICATE = "duplicate of trial "  # reason prefix of a repeat answered from the stored result

# Settings that differ between trials without changing what is trained: the seed follows the
# trial number, and latency is measured by the search, not the trainer.
_PER_TRIAL = ("seed", "latency_repeats")


def candidate_key(arch: dict[str, Any], loss: dict[str, Any], hparams: dict[str, Any],
                  train_config: dict[str, Any], data_hash: str) -> str:
    """sha256 over everything that decides a candidate's result: architecture, loss,
    hyperparameters, training settings and the data."""
    train = {k: v for k, v in train_config.items() if k not in _PER_TRIAL}
    blob = json.dumps([arch, loss, hparams, train, data_hash], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def answer_repeat(storage: Storage, cfg: StudyConfig, trial: optuna.Trial, key: str,
                  prune: Callable[[str], NoReturn]) -> float | tuple[float, ...] | None:
    """A candidate trained before (same ``key``) is answered from its stored result, not
    trained again: the sampler is told the same values (or, through ``prune``, the same
    pruning), and the leaderboard says so. None: a new candidate."""
    from automl.policy.limits import constraint_values
    from automl.storage.candidates import find_candidate

    study = cfg.study.name
    found = find_candidate(storage, study, key)
    if found is None:
        return None
    first, state = found
    old = storage.trial(study, first)
    reason = f"{DUPLICATE}{first}"
    trial.set_user_attr("duplicate_of", first)
    values = old.values
    if state == "PRUNED" or values is None:
        prune(f"{reason}, which was {(old.reason or 'pruned').split(':')[0]}")
    copied = {k: getattr(old, k) for k in (
        "val_accuracy", "val_loss", "test_accuracy", "params", "flops", "latency_ms",
        "peak_memory_mb", "comm_bytes_per_step", "best_epoch", "artifact_path")}
    storage.update_trial(study, trial.number, state="COMPLETE", reason=reason,
                         train_seconds=0.0, **copied)
    trial.set_user_attr("reason", reason)
    trial.set_user_attr("test_accuracy", old.test_accuracy)
    trial.set_user_attr("constraint", constraint_values(cfg.limits, copied))
    if copied.get(cfg.study.cost) is not None:
        trial.set_user_attr("cost", float(copied[cfg.study.cost]))
    return values[0] if len(values) == 1 else tuple(values)
