"""Read-side records: plain dataclasses the CLI, ranking and dashboard consume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from trainer.metrics import METRICS


@dataclass(frozen=True)
class EpochPoint:
    epoch: int
    train_loss: float
    val_accuracy: float
    seconds: float
    val_loss: float | None = None


@dataclass(frozen=True)
class TrialRecord:
    """One trial as Optuna and the project's tables know it (Optuna's state is authoritative)."""

    study: str
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    values: tuple[float, ...] | None
    val_accuracy: float | None = None
    val_loss: float | None = None
    test_accuracy: float | None = None
    params: int | None = None
    flops: float | None = None
    latency_ms: float | None = None
    peak_memory_mb: float | None = None
    comm_bytes_per_step: float | None = None
    train_seconds: float | None = None
    best_epoch: int | None = None
    arch_space: str | None = None
    arch: dict[str, Any] | None = None
    loss: dict[str, Any] | None = None
    loss_formula: str | None = None
    loss_family: str | None = None
    hparams: dict[str, Any] | None = None
    train_config: dict[str, Any] | None = None
    preprocessing: dict[str, Any] | None = None
    artifact_path: str | None = None
    reason: str | None = None
    val_samples: int | None = None  # size of the validation split val_accuracy was measured on
    duplicate_of: int | None = None  # a repeat answered from this trial's stored result
    # k-fold cross-validation on train + validation (small data, contenders only)
    cv_accuracy: float | None = None
    cv_std: float | None = None
    cv_loss: float | None = None
    cv_folds: int | None = None
    cv_samples: int | None = None
    # why a contender has no folds: raced out (its first folds could not reach the best
    # cross-validated figure), no time for them, or the deadline in them
    cv_skipped: str | None = None
    # rocket's ridge start scored leave-one-out over the training split (closed form; recorded
    # for analysis, not used to choose: as the contenders' cross-validated figure it lost 0.6
    # points on 8 sets x 3 seeds, benchmarks/RESULTS.md)
    loo_accuracy: float | None = None
    loo_samples: int | None = None
    # mean validation accuracy of the last RECENT_EPOCHS epochs trained (breaks holdout ties)
    val_recent: float | None = None
    # test accuracy of each class by name (None: no test sample of it), and the training
    # split's samples per class (the losses' class prior)
    test_per_class: dict[str, float | None] | None = None
    class_counts: list[int] | None = None
    # seconds of the training call before its first epoch and after its last (rocket's feature
    # fit, the test split's scoring): what a refit pays again beside its epochs
    lead_seconds: float | None = None
    params_searched: dict[str, Any] = field(default_factory=dict)
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    epochs: tuple[EpochPoint, ...] = ()

    @property
    def metric(self) -> str:
        """What val_accuracy and test_accuracy measure (``study.metric``)."""
        stored = self.train_config.get("metric") if isinstance(self.train_config, dict) else None
        return stored if stored in METRICS else "accuracy"

    @property
    def validation(self) -> str:
        """How the accuracy that picks ``best`` was measured."""
        if self.cv_folds:
            return f"{self.cv_folds}-fold CV, n={self.cv_samples}"
        if self.cv_skipped:  # "raced out", "no time", "deadline": the first words say it
            return "holdout; folds " + ("raced out" if self.cv_skipped.startswith("raced")
                                        else "cut by time")
        return "holdout"

    def cost(self, name: str) -> float | None:
        value = getattr(self, name, None)
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("datetime_start", "datetime_complete"):
            d[key] = d[key].isoformat() if d[key] else None
        d["values"] = list(self.values) if self.values is not None else None
        d["epochs"] = [asdict(e) for e in self.epochs]
        return d


@dataclass(frozen=True)
class StudySummary:
    name: str
    objective: str | None
    cost: str | None
    directions: tuple[str, ...]
    n_trials: int
    states: dict[str, int]
    best_val_accuracy: float | None
    created_at: datetime | None
    last_update: datetime | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("created_at", "last_update"):
            d[key] = d[key].isoformat() if d[key] else None
        d["directions"] = list(self.directions)
        return d


def arch_summary(arch: Mapping[str, Any] | None) -> str:
    """One line for a table cell (the CLI's leaderboard, the dashboard): ``mlp 64-512``, an
    ensemble ``mlp 256-256 x16``, ``cnn2d w16/32 3b``, ``rocket 9996f`` (84 kernels x features
    per kernel), ``table(emb8 ple32) mlp 64-32``. A stored spec is read as data: a field of an
    unexpected type is left out, never an error."""
    if not arch:
        return "-"
    kind = str(arch.get("kind", "?"))
    body = arch.get("body")
    if kind == "table" and isinstance(body, Mapping):  # the encoder, then the body
        enc = "1hot" if arch.get("encoding") == "onehot" else f"emb{arch.get('embed_dim')}"
        bins = f" ple{arch.get('bins')}" if arch.get("bins") else ""
        return f"table({enc}{bins}) {arch_summary(body)}"
    stages = arch.get("stages")
    if isinstance(stages, list):
        stages = [s for s in stages if isinstance(s, Mapping)]
        n_blocks = sum(len(s.get("blocks") or []) for s in stages)
        return f"{kind} w{'/'.join(str(s.get('width')) for s in stages)} {n_blocks}b"
    hidden = arch.get("hidden")
    if isinstance(hidden, list):
        m = arch.get("members")  # an efficient ensemble of m members: " x16"
        ensemble = f" x{m}" if isinstance(m, int) and m > 1 else ""
        return f"{kind} " + "-".join(str(h) for h in hidden) + ensemble
    per = arch.get("per_dilation")
    if isinstance(per, list) and all(isinstance(n, int) for n in per):
        return f"{kind} {84 * sum(per)}f"
    return kind
