"""The one place that talks to the database.

:class:`Storage` owns a SQLAlchemy engine for the project's tables and an Optuna
``RDBStorage`` on the same URL for the study itself. Every SQL call goes through
:meth:`Storage.session`, which commits, rolls back and closes, and turns driver errors into one
:class:`~automl.errors.StorageError` line with the password masked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from automl.errors import StorageError
from automl.storage import schema
from automl.storage.engine import SQLITE_TIMEOUT_S, engine_kwargs, parse_url, sqlite_pragmas
from automl.storage.records import EpochPoint, StudySummary, TrialRecord
from automl.storage.schema import EpochRow, MetaRow, StudyKeyRow, StudyRow, TrialRow
from automl.storage.urls import default_artifacts, mask_text, mask_url, secrets_of, sqlite_path

if TYPE_CHECKING:
    import optuna

__all__ = ["SQLITE_TIMEOUT_S", "Storage"]

T = TypeVar("T")


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
        readonly: bool = False,
    ) -> None:
        """``readonly``: open for reading only (no table creation, no write of any kind; a
        SQLite file is opened ``mode=ro``), as the read commands do."""
        self.url = url
        self.masked_url = mask_url(url)
        self.readonly = readonly
        self._secrets = secrets_of(url)
        try:
            parsed = parse_url(url)
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
        # What the drivers are given: the password re-encoded, whatever it holds.
        self._parsed = parsed
        self.engine = self._make_engine(parsed)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create and not readonly:
            self._create_schema()
        else:
            self._check_schema()

    # -- plumbing ---------------------------------------------------------------------------
    def mask(self, text: str) -> str:
        """``text`` with this storage's URL secrets masked, in whatever form it echoes them."""
        return mask_text(text, self._secrets)

    def _fail(self, exc: BaseException) -> StorageError:
        """One masked line for a driver error."""
        return StorageError(f"storage {self.masked_url}: {self.mask(_first_line(exc))}")

    def _engine_kwargs(self, parsed: Any) -> dict[str, Any]:
        try:
            return engine_kwargs(parsed, readonly=self.readonly)
        except StorageError as exc:
            raise StorageError(self.mask(str(exc))) from None

    def _make_engine(self, parsed: Any) -> Engine:
        kwargs: dict[str, Any] = {"pool_pre_ping": True, **self._engine_kwargs(parsed)}
        try:
            engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError, TypeError, ValueError) as exc:
            raise self._fail(exc) from None
        if self.is_sqlite:
            event.listen(engine, "connect", sqlite_pragmas(self.readonly))
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
            raise self._fail(exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _racing_create(self, create: Callable[[], T]) -> T:
        """Run a CREATE-TABLE step that workers starting together may race on: the loser sees
        "already exists" or a duplicate Alembic version stamp (SQLAlchemy's and Optuna's checks
        are not atomic) and simply checks again."""
        for attempt in range(4):
            try:
                return create()
            except Exception as exc:  # Optuna wraps driver errors in several types
                raced = any(m in str(exc) for m in ("already exists", "alembic_version"))
                if attempt == 3 or not raced:
                    raise self._fail(exc) from exc
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _create_schema(self) -> None:
        self._racing_create(lambda: schema.Base.metadata.create_all(self.engine))
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
            raise self._fail(exc) from exc
        if "automl_studies" not in tables:
            raise StorageError(f"storage {self.masked_url}: holds no automl studies")

    @cached_property
    def optuna(self) -> optuna.storages.RDBStorage:
        """Optuna's RDB storage on the same URL (imported lazily: optuna is slow to import)."""
        import optuna

        kwargs: dict[str, Any] = {"engine_kwargs": self._engine_kwargs(self._parsed)}
        if self.readonly:
            kwargs["skip_table_creation"] = True
        interval, grace = self._heartbeat
        if interval:
            kwargs["heartbeat_interval"] = interval
            kwargs["grace_period"] = grace
            kwargs["heartbeat_stale_trial_callback"] = _retry_callback()
        url = self._parsed.render_as_string(hide_password=False)
        return self._racing_create(lambda: optuna.storages.RDBStorage(url, **kwargs))

    def close(self) -> None:
        self.engine.dispose()
        if "optuna" in self.__dict__:
            self.optuna.remove_session()
            self.optuna.engine.dispose()

    def artifact_dir(self, study: str, number: int) -> tuple[Path, str]:
        """A trial's weights folder: (absolute path, path relative to the artifacts root, as
        the database stores it). See :mod:`automl.storage.artifacts`."""
        from automl.storage.artifacts import trial_dir

        rel = trial_dir(study, self.study_key(study), number)
        return self.artifacts_root / rel, rel

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
                    seconds=seconds,
                    val_loss=val_loss,
                )
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


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return mask_text(text.splitlines()[0] if text else type(exc).__name__)
