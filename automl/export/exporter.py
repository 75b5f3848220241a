"""``automl export``: trial(s) of a study -> bundle folder(s). See :mod:`automl.policy.select`
for what ``best``, ``knee`` and ``--pareto`` choose."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.config import cost_or_default
from automl.export.bundle import BundleOptions, write_bundle
from automl.export.errors import ExportError
from automl.export.spec import build_spec, refits_start, with_refit
from automl.export.staging import check_fits, choose_source, data_config, reload_data, staged
from automl.policy.select import best_trial, knee_trial, select
from automl.storage.artifacts import REFIT_FILE, REFIT_KEY
from automl.storage.records import TrialRecord

NOTES = {
    True: "`--as-searched` trains the same spec with the same seed, data split and "
          "hyperparameters as the search did (train split, weights of the best validation "
          "epoch), so on the same CPU and thread count it gives the same weights and test "
          "accuracy. It needs neither the database nor these weights, only spec.json and the "
          "data source. Without --as-searched, retrain fits train + validation instead.",
    False: "Trains the same spec from scratch with the same seed, data split, hyperparameters "
           "and epochs on train + validation, as this bundle was made; on the same CPU and "
           "thread count it gives the same weights. Needs only spec.json and the data source.",
}


@dataclass(frozen=True)
class ExportReport:
    out: Path
    bundles: list[tuple[Path, dict[str, Any]]]
    warnings: list[str] = field(default_factory=list)


def storage_for_command(url: str) -> str:
    """The URL as a command should show it: SQLite files absolute, passwords masked."""
    from automl.storage import mask_url
    from automl.storage.urls import sqlite_path

    db = sqlite_path(url)
    return f"sqlite:///{db.resolve()}" if db is not None else mask_url(url)


def read_study(storage: str | None, study: str) -> tuple[str, list[TrialRecord], dict[str, Any]]:
    """The resolved storage URL, every trial record of ``study`` and its stored config."""
    from automl.storage import open_storage, resolve_url

    url = resolve_url(storage)
    store = open_storage(url, create=False, readonly=True)
    try:
        return url, store.trials(study), store.study_config(study)
    finally:
        store.close()


def reproduce(folder: Path, spec: dict[str, Any], storage_url: str | None = None,
              as_searched: bool = True) -> dict[str, Any]:
    """The commands that rebuild this bundle's model from scratch (tested by parsing them).

    They name the data source explicitly (``--data``): whoever runs them sees what is loaded.
    """
    out = str(folder.with_name(folder.name + "-reproduced"))
    mode = ["--as-searched"] if as_searched else []
    # A refit of a kept fitted start trained no epoch, and a retrain of its bundle repeats
    # that; no --epochs, and no trial of the database, can.
    start = not as_searched and refits_start(spec)
    epochs = ["--epochs", str(spec["train_config"]["epochs"])] if not (as_searched or start) \
        else []
    data = ["--data", str((spec.get("data") or {}).get("source") or "digits")]
    cmd = ["automl", "retrain", "--from", str(folder), *data, *mode, *epochs, "--out", out]
    result = {"command": shlex.join(cmd), "note": NOTES[as_searched]}
    if storage_url is not None and not start:
        db = ["automl", "retrain", spec["study"], "--trial", str(spec["trial"]),
              "--storage", storage_for_command(storage_url), *data, *mode, *epochs, "--out", out]
        result["from_database"] = shlex.join(db)
    return result


def _refit_of(config: dict[str, Any], choice: str | int, pareto: bool, trial: int
              ) -> dict[str, Any] | None:
    """The search's refit (``automl/control/refit.py``) when ``best`` is exported and the refit
    is of the trial ``best`` now chooses."""
    refit = config.get(REFIT_KEY)
    if choice != "best" or pareto or not isinstance(refit, dict):
        return None
    return refit if refit.get("trial") == trial else None


def _weights(rec: Any, refit: dict[str, Any] | None = None) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(rec.artifact_path) if rec.artifact_path else None
    if path is not None and refit is not None:
        path = path.with_name(REFIT_FILE)
    if path is None or not path.is_file():
        where = f" ({path} is missing)" if path else ""
        raise ExportError(f"trial {rec.number} of study {rec.study!r} has no weights file{where}")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise ExportError(f"{path}: cannot read weights ({exc})") from None


def export_study(storage: str | None, study: str, choice: str | int, out: Path, *,
                 pareto: bool = False, options: BundleOptions | None = None,
                 data_source: str | None = None) -> ExportReport:
    """Export the chosen trial (or, with ``pareto``, every front member into ``trial_NNNNN``
    subfolders of ``out``) and return where each bundle went with its spec.

    The study's data is re-loaded to check the bundle on its test split, except a stored
    ``python:`` source, which runs only when passed as ``data_source`` (``--data``); without
    data the bundle is checked on random inputs."""
    options = options or BundleOptions()
    out = Path(out).resolve()
    url, records, config = read_study(storage, study)
    cost = cost_or_default(config.get("study", {}).get("cost"))
    chosen = select(records, choice, cost=cost, pareto=pareto, study=study)
    refit = _refit_of(config, choice, pareto, chosen[0].number)
    with staged(out) as tmp:  # checks --out first: a taken folder fails before any work
        states = {rec.number: _weights(rec, refit) for rec in chosen}
        d, warnings = choose_source(data_config(config), data_source, from_bundle=False,
                                    required=False)
        data, more = reload_data(d, required=False) if d is not None else (None, [])
        warnings += more
        if data is not None:
            check_fits(chosen[0].arch or {}, data, "export")
        by = "pareto" if pareto else ("trial" if isinstance(choice, int) else str(choice))
        bundles = []
        for rec in chosen:
            sub = f"trial_{rec.number:05d}" if pareto else ""
            spec = build_spec(rec, config, selected_by=by)
            if refit is not None:
                spec = with_refit(spec, refit)
            spec["storage"] = storage_for_command(url)
            spec["reproduce"] = reproduce(out / sub if sub else out, spec, url,
                                          as_searched=refit is None)
            spec = write_bundle(tmp / sub if sub else tmp, spec, states[rec.number], data,
                                options)
            bundles.append((out / sub if sub else out, spec))
        if pareto:
            (tmp / "pareto.json").write_text(json.dumps(_front_index(records, cost, bundles),
                                                        indent=2) + "\n")
    return ExportReport(out, bundles, warnings)


def _front_index(records: Any, cost: str, bundles: list[tuple[Path, dict[str, Any]]]
                 ) -> dict[str, Any]:
    best, knee = best_trial(records, cost).number, knee_trial(records, cost).number
    return {"cost": cost, "best": best, "knee": knee, "members": [
        {"trial": s["trial"], "folder": p.name, "val_accuracy": s["metrics"]["val_accuracy"],
         "test_accuracy": s["metrics"]["test_accuracy"], cost: s["costs"].get(cost)}
        for p, s in bundles]}
