"""``automl retrain``: train a trial's spec again from scratch and write a bundle.

Two modes. Default: fit train + validation together (more data for the model that ships),
optionally for more epochs; the search's test split stays untouched, so the test accuracy is
comparable with the search-time figure. ``as_searched``: train exactly as the search did
(train split, keep the best validation epoch), which reproduces the trial's model.

In the default mode no held-out validation data is left, so the trainer's "best epoch" is
chosen on the validation samples it also trains on; that accuracy saturates and ties go to the
later epoch, so in practice the last epoch's weights are kept.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from automl.export.bundle import BundleOptions, write_bundle
from automl.export.errors import ExportError
from automl.export.spec import build_spec, read_spec, refits_start, versions
from automl.export.staging import check_fits, choose_source, data_config, reload_data, staged

EXPORT_SECTIONS = ("onnx", "quantization", "verification", "files", "reproduce")


@dataclass(frozen=True)
class RetrainReport:
    out: Path
    spec: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def train_plus_val(splits: Any) -> Any:
    """``splits`` whose training part holds the validation samples too (the validation split
    stays, for the trainer's per-epoch figure, which is then no longer held out)."""
    return dataclasses.replace(
        splits,
        x_train=np.concatenate([splits.x_train, splits.x_val]),
        y_train=np.concatenate([splits.y_train, splits.y_val]),
    )


def train_config(stored: dict[str, Any] | None, **changes: Any) -> Any:
    """A ``TrainConfig`` from a trial's stored ``train_config`` (unknown keys left out), with
    ``changes``; raises ExportError in one line when the stored values are not valid."""
    from trainer import TrainConfig

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    kept = {k: v for k, v in (stored or {}).items() if k in known}
    try:
        return TrainConfig(**{**kept, **changes})
    except (TypeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(f"retrain: bad train_config ({detail})") from None


def base_spec_from_db(storage: str | None, study: str, trial: int) -> tuple[dict[str, Any], str]:
    """The spec ``export`` would write for ``trial`` (no weights needed), and the storage URL."""
    from automl.export.exporter import read_study, storage_for_command
    from automl.policy.select import numbered_trial

    url, records, config = read_study(storage, study)
    spec = build_spec(numbered_trial(records, trial, study), config, selected_by="retrain")
    spec["storage"] = storage_for_command(url)
    return spec, url


def retrain(base: dict[str, Any], out: Path, *, epochs: int | None = None,
            as_searched: bool = False, options: BundleOptions | None = None,
            storage_url: str | None = None, data_source: str | None = None,
            from_bundle: bool = False) -> RetrainReport:
    """Train ``base["arch"]`` with ``base["loss"]`` and ``base["train_config"]`` from scratch on
    the re-loaded data, then write a bundle to ``out``.

    ``data_source`` (``--data``) replaces the stored source; it is required when ``base`` came
    from a bundle (``from_bundle``), and when the study's stored source is ``python:`` code:
    see :func:`automl.export.staging.choose_source`.

    Started by ``torchrun`` (``WORLD_SIZE`` > 1, e.g. ``srun torchrun --nnodes N ...`` on a
    Slurm allocation) every process trains as one DDP rank, meeting through torchrun's own
    rendezvous; rank 0 alone writes the bundle, the others return a report with an empty spec.
    """
    from automl.export.exporter import reproduce
    from trainer.env import dist_env

    if epochs is not None and epochs < 1:
        raise ExportError(f"--epochs {epochs}: must be at least 1")
    out = Path(out).resolve()
    if not dist_env().is_main:
        _, warnings, _ = _fit(base, epochs, as_searched, data_source, from_bundle)
        return RetrainReport(out, {}, warnings)
    with staged(out) as tmp:  # a taken --out fails before training
        (data, d, cfg, splits), warnings, result = _fit(
            base, epochs, as_searched, data_source, from_bundle)
        spec = _retrained_spec(base, cfg, result, splits, data, d, as_searched=as_searched)
        spec["reproduce"] = reproduce(out, spec, storage_url, as_searched=as_searched)
        spec = write_bundle(tmp, spec, result.state_dict, data, options or BundleOptions())
    return RetrainReport(out, spec, warnings)


def _fit(base: dict[str, Any], epochs: int | None, as_searched: bool, data_source: str | None,
         from_bundle: bool) -> tuple[tuple[Any, dict[str, Any], Any, Any], list[str], Any]:
    """Re-load the data, rebuild config, arch and loss, and train (as this process's rank)."""
    from search_spaces import arch_from_dict, loss_from_dict
    from trainer import train

    d, _ = choose_source(data_config(base), data_source, from_bundle=from_bundle, required=True)
    assert d is not None
    data, warnings = reload_data(d, required=True)
    assert data is not None
    check_fits(base.get("arch") or {}, data, "retrain")
    cfg = train_config(base.get("train_config"), **({"epochs": epochs} if epochs else {}))
    try:
        arch, loss = arch_from_dict(base["arch"]), loss_from_dict(base["loss"])
    except (TypeError, ValueError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(f"retrain: bad train_config, arch or loss ({detail})") from None
    if getattr(arch, "columns", None) != data.column_specs():
        raise ExportError("retrain: the data's columns (kinds, levels, missing values) are not "
                          "the ones the architecture was searched for; retrain on that table")
    splits = data.splits if as_searched else train_plus_val(data.splits)
    # On train + validation the validation figure is no longer held out, so it never chooses:
    # the last epoch is kept, as the search's refit does, and a bundle of a refit of a kept
    # fitted start is rebuilt as that start alone (automl/control/refit.py).
    start = not as_searched and not epochs and refits_start(base)
    keep = "best" if as_searched else "start" if start else "last"
    try:
        result = train(arch, loss, splits, cfg, keep=keep)
    except ValueError as exc:
        raise ExportError(f"retrain: {exc}") from None
    return (data, d, cfg, splits), warnings, result


def _retrained_spec(base: dict[str, Any], cfg: Any, result: Any, splits: Any, data: Any,
                    d: dict[str, Any], *, as_searched: bool) -> dict[str, Any]:
    """``base`` updated to describe the retrained model (its files are added by the bundle)."""
    stored = base.get("train_config") or {}
    spec = copy.deepcopy(base)
    for stale in EXPORT_SECTIONS:  # describe the files of the bundle it came from
        spec.pop(stale, None)
    prior = base.get("retrain") or {}
    spec["retrain"] = {
        "mode": "as-searched" if as_searched else "train+val",
        "epochs": cfg.epochs if result.history else 0,  # 0: the fitted start alone
        "train_samples": int(len(splits.y_train)),
        "best_epoch": result.best_epoch,
        "search_test_accuracy": prior.get("search_test_accuracy",
                                          base["metrics"].get("test_accuracy")),
        "search_epochs": prior.get("search_epochs", stored.get("epochs")),
        "ranks": _ranks(cfg),  # processes that trained it (torchrun's WORLD_SIZE, or nproc)
    }
    spec["train_config"] = dataclasses.asdict(cfg)
    spec["preprocessing"] = data.preprocessing
    spec["data"] = {**d, "sha256": data.data_hash}  # what this model was trained on
    spec["metrics"] = {
        # Validation samples were trained on in train+val mode: no honest figure is left.
        "val_accuracy": result.val_accuracy if as_searched else None,
        "test_accuracy": result.test_accuracy,
        "best_epoch": result.best_epoch,
        "metric": cfg.metric,
        "test_per_class": data.by_class(result.test_per_class),
    }
    costs = result.costs
    spec["costs"] = {**spec.get("costs", {}), "train_seconds": result.train_seconds,
                     "peak_memory_mb": result.peak_memory_mb,
                     "comm_bytes_per_step": result.comm_bytes_per_step}
    if costs is not None:
        spec["costs"].update(params=costs.params, flops=costs.flops, latency_ms=costs.latency_ms)
    spec["selected_by"] = "retrain"
    spec["created_at"], spec["versions"] = _now(), versions()
    return spec


def _ranks(cfg: Any) -> int:
    from trainer.env import dist_env

    world = dist_env().world_size
    return world if world > 1 else int(cfg.nproc)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def base_spec_from_bundle(folder: Path) -> dict[str, Any]:
    """A bundle's spec, as the starting point of a retrain without the database."""
    spec = read_spec(folder)
    for key in ("loss", "train_config", "data"):
        if not spec.get(key):
            raise ExportError(f"{folder}: spec.json has no {key!r}; cannot retrain from it")
    d = spec["data"]
    for key, kinds in (("val_fraction", (int, float)), ("test_fraction", (int, float)),
                       ("split_seed", (int,)), ("standardize", (bool,))):
        if not isinstance(d.get(key), kinds) or (bool not in kinds and isinstance(d[key], bool)):
            raise ExportError(f"{folder}: spec.json field 'data.{key}' is missing or not a "
                              f"{kinds[-1].__name__}; cannot retrain from it")
    if not (0 <= d["val_fraction"] < 1 and 0 <= d["test_fraction"] < 1 and d["split_seed"] >= 0):
        raise ExportError(f"{folder}: spec.json 'data' fractions must be in [0, 1) and "
                          "split_seed >= 0; cannot retrain from it")
    if not isinstance(spec.get("metrics"), dict):
        raise ExportError(f"{folder}: spec.json has no 'metrics' object; cannot retrain from it")
    return spec
