"""Join Optuna's view of a study (states, values, params) with the project's rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import StorageError
from automl.storage.artifacts import resolve
from automl.storage.records import StudySummary, TrialRecord
from automl.storage.schema import StudyRow

if TYPE_CHECKING:
    from automl.storage.store import Storage

_COPIED = (
    "val_accuracy", "val_loss", "test_accuracy", "params", "flops", "latency_ms", "peak_memory_mb",
    "comm_bytes_per_step", "train_seconds", "best_epoch", "arch_space", "arch", "loss",
    "loss_formula", "loss_family", "hparams", "train_config", "preprocessing", "artifact_path",
    "reason",
)


def _study_id(storage: Storage, name: str) -> int:
    import optuna

    try:
        return storage.optuna.get_study_id_from_name(name)
    except KeyError:
        raise storage._no_study(name) from None
    except optuna.exceptions.StorageInternalError as exc:
        raise StorageError(f"storage {storage.masked_url}: {storage.mask(str(exc))}") from exc


def load_trials(storage: Storage, study: str, *, with_epochs: bool = False,
                number: int | None = None) -> list[TrialRecord]:
    """Every trial of ``study`` (or just ``number``), in trial-number order. Optuna's state is
    authoritative: a trial whose process died shows as Optuna marks it, whatever the project's
    row last said."""
    from sqlalchemy.exc import SQLAlchemyError

    from automl.storage.optuna_tables import read_trials
    from automl.storage.store import epochs_of

    try:
        with storage.engine.connect() as conn:
            trials = read_trials(conn, study, number)
    except (SQLAlchemyError, KeyError, ValueError):
        trials = _read_with_optuna_api(storage, study, number)  # schema changed: portable path
    if trials is None:
        raise storage._no_study(study)
    rows = storage._rows(study, with_epochs, number)
    roots = _artifact_roots(storage, study)
    records = []
    for t in trials:
        row = rows.get(t.number)
        extra: dict[str, Any] = {k: getattr(row, k) for k in _COPIED} if row is not None else {}
        if extra.get("artifact_path"):
            found = resolve(extra["artifact_path"], roots)
            extra["artifact_path"] = str(found) if found is not None else None
        if extra.get("reason") is None:
            extra["reason"] = t.reason
        extra.update(t.attrs)
        records.append(
            TrialRecord(
                study=study,
                number=t.number,
                state=t.state,
                values=tuple(t.values) if t.values else None,
                params_searched=t.params,
                datetime_start=t.datetime_start,
                datetime_complete=t.datetime_complete,
                epochs=epochs_of(row),
                **extra,
            )
        )
    return records


def _artifact_roots(storage: Storage, study: str) -> list[Path]:
    """Where a stored relative weights path may lie: this storage's artifacts root first (the
    one given on the command line, else the folder beside the database), then the folder the
    study was searched with."""
    roots = [storage.artifacts_root]
    try:
        searched = storage.study_config(study).get("study", {}).get("artifacts")
    except StorageError:
        searched = None
    if isinstance(searched, str) and searched:
        roots.append(Path(searched).expanduser())
    return roots


def _read_with_optuna_api(storage: Storage, study: str, number: int | None) -> list[Any] | None:
    from automl.storage.optuna_tables import READ_ATTRS, OptunaTrial

    try:
        study_id = _study_id(storage, study)
    except StorageError:
        return None
    out = []
    for ft in storage.optuna.get_all_trials(study_id, deepcopy=False):
        if number is None or ft.number == number:
            out.append(OptunaTrial(ft.number, ft.state.name, ft.datetime_start,
                                   ft.datetime_complete, list(ft.values or []), dict(ft.params),
                                   ft.user_attrs.get("reason"),
                                   {k: ft.user_attrs[k] for k in READ_ATTRS
                                    if k in ft.user_attrs}))
    return out


def summarize_studies(storage: Storage) -> list[StudySummary]:
    from sqlalchemy import inspect, select

    from automl.storage.optuna_tables import study_stats

    with storage.session() as s:
        meta = {r.name: r for r in s.scalars(select(StudyRow))}
    stats: dict[str, Any] = {}
    if inspect(storage.engine).has_table("studies"):  # else Optuna's call below creates them
        with storage.engine.connect() as conn:
            stats = study_stats(conn)
    elif storage.readonly:
        return []  # no Optuna tables, and a read-only handle must not create them
    out = []
    for fs in storage.optuna.get_all_studies():
        st = stats.get(fs.study_name, {"states": {}, "best": None, "last": None})
        row = meta.get(fs.study_name)
        out.append(
            StudySummary(
                name=fs.study_name,
                objective=row.objective if row else None,
                cost=row.cost if row else None,
                directions=tuple(d.name.lower() for d in fs.directions),
                n_trials=sum(st["states"].values()),
                states=dict(st["states"]),
                best_val_accuracy=st["best"],
                created_at=row.created_at if row else None,
                last_update=st["last"],
            )
        )
    return out
