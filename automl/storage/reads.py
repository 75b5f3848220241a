"""Join Optuna's view of a study (states, values, params) with the project's rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.errors import StorageError
from automl.storage.records import StudySummary, TrialRecord
from automl.storage.schema import StudyRow

if TYPE_CHECKING:
    from automl.storage.store import Storage

_COPIED = (
    "val_accuracy", "test_accuracy", "params", "flops", "latency_ms", "peak_memory_mb",
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
        raise StorageError(f"storage {storage.masked_url}: {exc}") from exc


def load_trials(storage: Storage, study: str, *, with_epochs: bool = False) -> list[TrialRecord]:
    """Every trial of ``study``, in trial-number order. Optuna's state is authoritative: a trial
    whose process died shows as Optuna marks it, whatever the project's row last said."""
    from automl.storage.store import epochs_of

    study_id = _study_id(storage, study)
    frozen = storage.optuna.get_all_trials(study_id, deepcopy=False)
    rows = storage._rows(study, with_epochs)
    records = []
    for ft in frozen:
        row = rows.get(ft.number)
        extra: dict[str, Any] = {k: getattr(row, k) for k in _COPIED} if row is not None else {}
        state = ft.state.name
        if extra.get("reason") is None:
            extra["reason"] = ft.user_attrs.get("reason")
        records.append(
            TrialRecord(
                study=study,
                number=ft.number,
                state=state,
                values=tuple(ft.values) if ft.values is not None else None,
                params_searched=dict(ft.params),
                datetime_start=ft.datetime_start,
                datetime_complete=ft.datetime_complete,
                epochs=epochs_of(row),
                **extra,
            )
        )
    return records


def summarize_studies(storage: Storage) -> list[StudySummary]:
    from sqlalchemy import select

    out = []
    with storage.session() as s:
        meta = {r.name: r for r in s.scalars(select(StudyRow))}
    for fs in storage.optuna.get_all_studies():
        trials = storage.optuna.get_all_trials(fs._study_id, deepcopy=False)
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.name] = states.get(t.state.name, 0) + 1
        accs = [t.values[0] for t in trials if t.state.name == "COMPLETE" and t.values]
        times = [t.datetime_complete or t.datetime_start for t in trials]
        times = [t for t in times if t is not None]
        row = meta.get(fs.study_name)
        out.append(
            StudySummary(
                name=fs.study_name,
                objective=row.objective if row else None,
                cost=row.cost if row else None,
                directions=tuple(d.name.lower() for d in fs.directions),
                n_trials=len(trials),
                states=states,
                best_val_accuracy=max(accs) if accs else None,
                created_at=row.created_at if row else (min(times) if times else None),
                last_update=max(times) if times else None,
            )
        )
    return out
