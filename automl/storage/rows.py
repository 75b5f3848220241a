"""The project's own rows of a study: its record, its trials' rows, their epochs, its key.

A base of :class:`~automl.storage.store.Storage` (kept apart so the class that owns the
connections stays small); every method runs in one :meth:`session`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from automl.errors import StorageError
from automl.storage import schema
from automl.storage.schema import EpochRow, StudyKeyRow, StudyRow, TrialRow


class ProjectRows:
    """Reads and writes of the ``automl_*`` rows."""

    masked_url: str

    def session(self) -> contextlib.AbstractContextManager[Session]:  # pragma: no cover
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------------
    def save_study(self, name: str, objective: str, cost: str, config: dict, env: dict) -> None:
        with self.session() as s:
            row = s.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                s.add(
                    StudyRow(
                        name=name, objective=objective, cost=cost, config=config, environment=env
                    )
                )
            else:
                row.objective, row.cost, row.config, row.environment = objective, cost, config, env

    def set_study_value(self, name: str, key: str, value: Any) -> None:
        """Set one key of the study's stored config (what a search learned after it ended,
        e.g. ``_refit``); the config is rewritten whole, as a JSON column is."""
        with self.session() as s:
            row = s.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                raise self.missing_study(name)
            row.config = {**dict(row.config), key: value}

    def update_trial(self, study: str, number: int, **fields: Any) -> None:
        """Create or update the project's row for a trial (only the given columns change)."""
        with self.session() as s:
            row = s.scalar(
                select(TrialRow).where(TrialRow.study_name == study, TrialRow.number == number)
            )
            if row is None:
                row = TrialRow(study_name=study, number=number)
                s.add(row)
            for key, value in fields.items():
                if not hasattr(TrialRow, key):
                    raise AttributeError(f"automl_trials has no column {key!r}")
                setattr(row, key, value)
            if fields.get("state") in ("COMPLETE", "PRUNED", "FAIL"):
                row.finished_at = schema.utcnow()

    def add_epoch(
        self,
        study: str,
        number: int,
        epoch: int,
        train_loss: float,
        val_accuracy: float,
        seconds: float,
        val_loss: float | None = None,
    ) -> None:
        with self.session() as s:
            trial_id = s.scalar(
                select(TrialRow.id).where(TrialRow.study_name == study, TrialRow.number == number)
            )
            if trial_id is None:
                raise StorageError(f"study {study!r} has no trial {number} to add an epoch to")
            s.add(
                EpochRow(
                    trial_id=trial_id,
                    epoch=epoch,
                    train_loss=train_loss,
                    val_accuracy=val_accuracy,
                    seconds=seconds,
                    val_loss=val_loss,
                )
            )

    def study_key(self, study: str) -> str:
        """The random key this database owns for ``study`` (made on first use)."""
        from automl.storage.artifacts import new_key

        with self.session() as s:
            row = s.get(StudyKeyRow, study)
            if row is not None:
                return row.key
        with contextlib.suppress(StorageError), self.session() as s:  # a racing worker wins
            s.add(StudyKeyRow(name=study, key=new_key()))
        with self.session() as s:
            row = s.get(StudyKeyRow, study)
            if row is None:
                raise StorageError(f"storage {self.masked_url}: no artifacts key for {study!r}")
            return row.key

    # -- reads ------------------------------------------------------------------------------
    def study_names(self) -> list[str]:
        """Names of the studies automl created (or adopted), oldest first."""
        with self.session() as s:
            return list(s.scalars(select(StudyRow.name).order_by(StudyRow.created_at)))

    def study_config(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                raise self.missing_study(name)
            return dict(row.config)

    def missing_study(self, name: str) -> StorageError:
        """The one-line error for a study this database does not hold (lists those it does)."""
        names = self.study_names()
        known = ", ".join(names) if names else "none"
        return StorageError(f"no study named {name!r} in {self.masked_url}; studies: {known}")

    def trial_rows(self, study: str, *, with_epochs: bool = False, number: int | None = None
                   ) -> dict[int, TrialRow]:
        """The project's rows of a study's trials (or of trial ``number``), by trial number."""
        from sqlalchemy.orm import selectinload

        with self.session() as s:
            q = select(TrialRow).where(TrialRow.study_name == study)
            if number is not None:
                q = q.where(TrialRow.number == number)
            if with_epochs:
                q = q.options(selectinload(TrialRow.epochs))
            return {r.number: r for r in s.scalars(q)}
