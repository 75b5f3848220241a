"""The one place that talks to the database.

:class:`Storage` owns a SQLAlchemy engine for the project's tables and an Optuna
``RDBStorage`` on the same URL for the study itself. Every SQL call goes through
:meth:`Storage.session`, which commits, rolls back and closes, and turns driver errors into one
:class:`~automl.errors.StorageError` line with the password masked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from automl.errors import StorageError
from automl.storage import schema
from automl.storage.records import EpochPoint, StudySummary, TrialRecord
from automl.storage.schema import EpochRow, MetaRow, StudyRow, TrialRow
from automl.storage.urls import default_artifacts, mask_text, mask_url, sqlite_path

if TYPE_CHECKING:
    import optuna

SQLITE_TIMEOUT_S = 60  # several workers on one SQLite file wait for the lock instead of failing


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the dashboard) run beside a writer; busy_timeout waits out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives a killed process (only a power cut can lose the last
    # commits) and saves an fsync per commit: per-epoch curves commit often.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Storage:
    """Project tables + Optuna RDB storage over one SQLAlchemy URL."""

    def __init__(
        self,
        url: str,
        *,
        artifacts: str | Path | None = None,
        create: bool = True,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
    ) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StorageError(
                f"storage URL {self.masked_url!r} is not a valid SQLAlchemy URL "
                "(e.g. sqlite:///automl.db or postgresql+psycopg://user:pass@host/db)"
            ) from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        db_file = sqlite_path(url)
        if db_file is not None and not create and not db_file.exists():
            raise StorageError(f"{db_file}: database file not found (storage {self.masked_url})")
        if db_file is not None and not db_file.parent.exists():
            raise StorageError(f"{db_file.parent}: folder of the database does not exist")
        self.artifacts_root = Path(artifacts).resolve() if artifacts else default_artifacts(url)
        self._heartbeat = (heartbeat_interval, grace_period)
        self.engine = self._make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            self._create_schema()
        else:
            self._check_schema()

    # -- plumbing ---------------------------------------------------------------------------
    def _make_engine(self, url: str) -> Engine:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
        try:
            engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise StorageError(f"storage {self.masked_url}: {mask_text(str(exc))}") from None
        if self.is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error, always close."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"storage {self.masked_url}: {_first_line(exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _create_schema(self) -> None:
        for attempt in range(3):
            try:
                schema.Base.metadata.create_all(self.engine)
                break
            except SQLAlchemyError as exc:
                # Workers starting together race to create the tables: the loser sees "already
                # exists" and simply checks again.
                if attempt == 2 or "already exists" not in str(exc):
                    raise StorageError(f"storage {self.masked_url}: {_first_line(exc)}") from exc
                time.sleep(0.2 * (attempt + 1))
        with contextlib.suppress(StorageError), self.session() as s:  # a racing worker wins
            if s.get(MetaRow, "schema_version") is None:
                s.add(MetaRow(key="schema_version", value=str(schema.SCHEMA_VERSION)))
        with self.session() as s:
            row = s.get(MetaRow, "schema_version")
            if row is not None and int(row.value) > schema.SCHEMA_VERSION:
                raise StorageError(
                    f"storage {self.masked_url}: written by a newer automl (schema "
                    f"{row.value} > {schema.SCHEMA_VERSION}); upgrade automl to open it"
                )

    def _check_schema(self) -> None:
        from sqlalchemy import inspect

        try:
            tables = set(inspect(self.engine).get_table_names())
        except SQLAlchemyError as exc:
            raise StorageError(f"storage {self.masked_url}: {_first_line(exc)}") from exc
        if "automl_studies" not in tables:
            raise StorageError(f"storage {self.masked_url}: holds no automl studies")

    @cached_property
    def optuna(self) -> optuna.storages.RDBStorage:
        """Optuna's RDB storage on the same URL (imported lazily: optuna is slow to import)."""
        import optuna

        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        interval, grace = self._heartbeat
        if interval:
            kwargs["heartbeat_interval"] = interval
            kwargs["grace_period"] = grace
            kwargs["heartbeat_stale_trial_callback"] = _retry_callback()
        try:
            return optuna.storages.RDBStorage(self.url, **kwargs)
        except Exception as exc:  # Optuna wraps driver errors in several types
            raise StorageError(
                f"storage {self.masked_url}: {mask_text(_first_line(exc))}"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()
        if "optuna" in self.__dict__:
            self.optuna.remove_session()
            self.optuna.engine.dispose()

    def artifact_dir(self, study: str, number: int) -> Path:
        return self.artifacts_root / _safe_name(study) / f"trial_{number:05d}"

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
                    seconds=seconds, val_loss=val_loss)
            )

    # -- reads ------------------------------------------------------------------------------
    def study_names(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(StudyRow.name).order_by(StudyRow.created_at)))

    def study_config(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                raise self._no_study(name)
            return dict(row.config)

    def list_studies(self) -> list[StudySummary]:
        from automl.storage.reads import summarize_studies

        return summarize_studies(self)

    def trials(self, study: str, *, with_epochs: bool = False) -> list[TrialRecord]:
        from automl.storage.reads import load_trials

        return load_trials(self, study, with_epochs=with_epochs)

    def trial(self, study: str, number: int) -> TrialRecord:
        from automl.storage.reads import load_trials

        for rec in load_trials(self, study, with_epochs=True, number=number):
            return rec
        raise StorageError(f"study {study!r} has no trial {number}")

    def _no_study(self, name: str) -> StorageError:
        names = self.study_names()
        known = ", ".join(names) if names else "none"
        return StorageError(f"no study named {name!r} in {self.masked_url}; studies: {known}")

    def _rows(
        self, study: str, with_epochs: bool, number: int | None = None
    ) -> dict[int, TrialRow]:
        with self.session() as s:
            q = select(TrialRow).where(TrialRow.study_name == study)
            if number is not None:
                q = q.where(TrialRow.number == number)
            if with_epochs:
                q = q.options(selectinload(TrialRow.epochs))
            return {r.number: r for r in s.scalars(q)}


def epochs_of(row: TrialRow | None) -> tuple[EpochPoint, ...]:
    if row is None or "epochs" not in row.__dict__:
        return ()
    return tuple(
        EpochPoint(e.epoch, e.train_loss, e.val_accuracy, e.seconds, e.val_loss)
        for e in row.epochs
    )


def _retry_callback() -> Any:
    import optuna

    # A candidate whose worker died is run again, up to 3 times (a candidate that kills its
    # worker every time, e.g. by running out of memory, must not loop forever).
    return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "study"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return mask_text(text.splitlines()[0] if text else type(exc).__name__)
