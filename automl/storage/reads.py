"""Join Optuna's view of a study (states, values, params) with the project's rows.

The readers take any :class:`Source`: :class:`~automl.storage.store.Storage` is one, and it
calls them, so this module does not import it (no import circle, not even for type checking).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from automl.errors import StorageError
from automl.storage.artifacts import resolve
from automl.storage.optuna_tables import READ_ATTRS, OptunaTrial, read_trials, study_stats
from automl.storage.records import EpochPoint, StudySummary, TrialRecord
from automl.storage.schema import StudyRow, TrialRow

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session


class Source(Protocol):
    """What the joined reads use of a storage handle."""

    artifacts_root: Path

    def connection(self) -> AbstractContextManager[Connection]: ...
    def session(self) -> AbstractContextManager[Session]: ...
    def frozen_trials(self, study: str) -> list[FrozenTrial]: ...
    def has_optuna_tables(self) -> bool: ...
    def optuna_studies(self) -> dict[str, list[str]]: ...
    def missing_study(self, name: str) -> StorageError: ...
    def study_config(self, name: str) -> dict[str, Any]: ...
    def trial_rows(self, study: str, *, with_epochs: bool = False, number: int | None = None
                   ) -> dict[int, TrialRow]: ...

_COPIED = (
    "val_accuracy", "val_loss", "test_accuracy", "params", "flops", "latency_ms", "peak_memory_mb",
    "comm_bytes_per_step", "train_seconds", "best_epoch", "arch_space", "arch", "loss",
    "loss_formula", "loss_family", "hparams", "train_config", "preprocessing", "artifact_path",
    "reason",
)


def optuna_trials(storage: Source, study: str, number: int | None = None
                  ) -> list[OptunaTrial] | None:
    """Optuna's side of a study's trials (None: no such study): one SELECT per table, or
    Optuna's own API where its tables are not as :mod:`~automl.storage.optuna_tables` reads
    them."""
    from sqlalchemy.exc import SQLAlchemyError

    with storage.connection() as conn:
        try:
            return read_trials(conn, study, number)
        except (SQLAlchemyError, KeyError, ValueError):
            pass  # Optuna's schema changed: the portable path below
    return read_with_optuna_api(storage, study, number)


def read_with_optuna_api(storage: Source, study: str, number: int | None = None
                         ) -> list[OptunaTrial] | None:
    """What :func:`~automl.storage.optuna_tables.read_trials` reads, through Optuna's API."""
    try:
        frozen = storage.frozen_trials(study)
    except StorageError:
        return None
    return [
        OptunaTrial(ft.number, ft.state.name, ft.datetime_start, ft.datetime_complete,
                    list(ft.values or []), dict(ft.params), ft.user_attrs.get("reason"),
                    {k: ft.user_attrs[k] for k in READ_ATTRS if k in ft.user_attrs})
        for ft in sorted(frozen, key=lambda t: t.number)
        if number is None or ft.number == number
    ]


def load_trials(storage: Source, study: str, *, with_epochs: bool = False,
                number: int | None = None) -> list[TrialRecord]:
    """Every trial of ``study`` (or just ``number``), in trial-number order. Optuna's state is
    authoritative: a trial whose process died shows as Optuna marks it, whatever the project's
    row last said."""
    trials = optuna_trials(storage, study, number)
    if trials is None:
        raise storage.missing_study(study)
    rows = storage.trial_rows(study, with_epochs=with_epochs, number=number)
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


def epochs_of(row: TrialRow | None) -> tuple[EpochPoint, ...]:
    """A row's per-epoch curve, if it was loaded with it (else none)."""
    if row is None or "epochs" not in row.__dict__:
        return ()
    return tuple(
        EpochPoint(e.epoch, e.train_loss, e.val_accuracy, e.seconds, e.val_loss)
        for e in row.epochs
    )


def _artifact_roots(storage: Source, study: str) -> list[Path]:
    """Where a stored relative weights path may lie: this storage's artifacts root first (the
    one given on the command line, else the folder beside the database), then the folder the
    study was searched with. One root (the usual case) means no file is looked at."""
    roots = [storage.artifacts_root]
    try:
        searched = storage.study_config(study).get("study", {}).get("artifacts")
    except StorageError:
        searched = None
    if isinstance(searched, str) and searched:
        other = Path(searched).expanduser().resolve()
        if other != roots[0]:
            roots.append(other)
    return roots


def summarize_studies(storage: Source) -> list[StudySummary]:
    from sqlalchemy import select

    with storage.session() as s:
        meta = {r.name: r for r in s.scalars(select(StudyRow))}
    if not storage.has_optuna_tables():
        return []  # nothing searched yet; a read must not create Optuna's tables
    with storage.connection() as conn:
        stats = study_stats(conn)
    out = []
    for name, directions in storage.optuna_studies().items():
        st = stats.get(name, {"states": {}, "best": None, "last": None})
        row = meta.get(name)
        out.append(
            StudySummary(
                name=name,
                objective=row.objective if row else None,
                cost=row.cost if row else None,
                directions=tuple(directions),
                n_trials=sum(st["states"].values()),
                states=dict(st["states"]),
                best_val_accuracy=st["best"],
                created_at=row.created_at if row else None,
                last_update=st["last"],
            )
        )
    return out
