"""A search whose training is a stand-in: the search's own decisions (sampling, repeats, limits,
rungs, cross-validation, the deadline, cheap start, the choice of ``best``) run for real, in this
process, against a real SQLite file, in a fraction of a second per trial.

``fake_train`` has :func:`trainer.train`'s signature and contract: it calls ``on_epoch`` after
every epoch and stops when it returns True, and returns a :class:`trainer.types.TrainResult`.
Its validation accuracy is a fixed function of the candidate (architecture, loss and
hyperparameters), rising over the epochs towards that candidate's own ceiling, so a sampler and
a pruner see candidates that differ, and the same candidate always scores the same.

``decisions`` lists what a search decided, trial by trial, in a form that can be compared
between two versions of the code (``tests/automl/data/decisions.json`` was recorded from the
code before the rooms of issue 20, through :func:`trainer.train` patched with ``fake_train``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SECONDS_PER_EPOCH = 0.01  # what fake epochs report (the deadline's estimate reads it)


# A signal spec's per-step affine (``input_scale`` / ``input_shift``, added after the recording):
# data the spec carries, not something the search asked for.
DATA_FIELDS = ("input_scale", "input_shift")


def _ceiling(arch: Any, loss: Any, cfg: Any) -> float:
    """The candidate's final accuracy: a stable hash of what was asked, in [0.5, 0.95]."""
    from search_spaces import arch_to_dict, loss_to_dict

    asked = {k: v for k, v in arch_to_dict(arch).items() if k not in DATA_FIELDS}
    key = json.dumps([asked, loss_to_dict(loss), cfg.lr, cfg.batch_size,
                      cfg.optimizer, cfg.weight_decay], sort_keys=True, default=str)
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8
    return 0.5 + 0.45 * h


def fake_train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None,
               *, clock: Callable[[float], None] | None = None,
               epoch_seconds: float = SECONDS_PER_EPOCH, **_: Any) -> Any:
    """Stand-in for :func:`trainer.train` (see the module docstring). Each epoch reports
    ``epoch_seconds``; ``clock(seconds)``, when given, is advanced by them (an injected
    clock)."""
    from trainer.types import EpochRecord, TrainResult

    n_val = max(1, len(data.y_val))
    top = _ceiling(arch, loss, cfg)
    history: list[EpochRecord] = []
    best, best_epoch, stopped = -1.0, 0, False
    for epoch in range(1, cfg.epochs + 1):
        acc = round(top * (1 - 0.5 ** epoch) * n_val) / n_val  # whole validation samples
        if clock is not None:
            clock(epoch_seconds)
        rec = EpochRecord(epoch, 1.0 - acc, acc, epoch_seconds, 1.0 - acc)
        history.append(rec)
        if acc > best:
            best, best_epoch = acc, epoch
        if on_epoch is not None and on_epoch(rec):
            stopped = True
            break
    return TrainResult(val_accuracy=best, test_accuracy=best - 0.01, history=history,
                       train_seconds=epoch_seconds * len(history), best_epoch=best_epoch,
                       stopped_early=stopped, state_dict={}, peak_memory_mb=1.0,
                       val_loss=1.0 - best)


def small_digits(path: Path, n: int = 360) -> str:
    """The first ``n`` of scikit-learn's digits, flattened, as an .npz (n <= 1000: small data,
    so contenders are cross-validated)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(path, x=d.data[:n].astype(np.float32), y=d.target[:n])
    return str(path)


def decisions(records: list[Any]) -> list[dict[str, Any]]:
    """What the search decided, trial by trial (figures rounded: they come from fake training
    and the meta device, and are compared across versions), without ``DATA_FIELDS``."""
    out = []
    for r in sorted(records, key=lambda r: r.number):
        acc = None if r.val_accuracy is None else round(r.val_accuracy, 6)
        cv = None if r.cv_accuracy is None else round(r.cv_accuracy, 6)
        out.append({"number": r.number, "state": r.state, "reason": r.reason,
                    "val_accuracy": acc, "flops": None if r.flops is None else
                    round(math.log10(max(r.flops, 1.0)), 6),
                    "arch": r.arch and {k: v for k, v in r.arch.items() if k not in DATA_FIELDS},
                    "loss": r.loss_formula, "hparams": r.hparams,
                    "epochs": None if r.train_config is None else r.train_config.get("epochs"),
                    "cv_accuracy": cv, "duplicate_of": r.duplicate_of})
    return out


# The searches whose decisions are recorded: small data (cross-validation on), a Pareto search
# with MO-ASHA rungs and a cheap start, and a single-objective search with the median pruner.
CASES: dict[str, dict[str, Any]] = {
    "pareto": {"study.objective": "pareto", "study.trials": 14, "trainer.epochs": 9,
               "search.cheap_start": "always"},
    "accuracy": {"study.objective": "val_accuracy", "study.pruner": "median",
                 "study.trials": 10, "trainer.epochs": 6},
}


def case_config(name: str, data: str, storage: str) -> Any:
    """The study config of one recorded case."""
    from automl.config import load

    # Recorded before issue 22 (tests/automl/test_loss_search.py has what it added): no loss
    # probes, and the loss families the searched space had then, so the sampler sees the
    # same choices; and before issue 21 (tests/automl/test_family_race.py): no strong start,
    # no family race, and the families auto then offered flattened digits (no rocket).
    flags = {"study.name": name, "study.storage": storage, "data.source": data,
             "study.seed": 0, "trainer.latency_repeats": 1, "search.loss_probes": False,
             "search.family_start": False, "search.family_race": False,
             "search.arch_options": {"families": ["mlp", "cnn1d"]},
             "search.loss_options": {"families": ["ce", "focal", "poly1", "composite"]},
             **CASES[name]}
    return load(None, flags)
