"""The one place that talks to the database.

:class:`Storage` owns a SQLAlchemy engine for the project's tables and an Optuna
``RDBStorage`` on the same URL for the study itself; neither leaves the storage package. Every
SQL call goes through :meth:`Storage.session` (or :meth:`Storage.connection` for the raw-SQL
readers), which turns driver errors into one :class:`~automl.errors.StorageError` line with the
password masked. Opening a writable handle upgrades the project's tables in place
(:mod:`automl.storage.migrate`); any other handle never creates or alters a table.
"""

from __future__ import annotations

import contextlib
import random
import time
import warnings
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from automl.errors import StorageError
from automl.storage import migrate
from automl.storage.engine import SQLITE_TIMEOUT_S, engine_kwargs, sqlite_pragmas
from automl.storage.masking import mask_text
from automl.storage.records import StudySummary, TrialRecord
from automl.storage.rows import ProjectRows
from automl.storage.urls import StorageUrl

if TYPE_CHECKING:
    from optuna import Study
    from optuna.storages import RDBStorage
    from optuna.trial import FrozenTrial

__all__ = ["SQLITE_TIMEOUT_S", "Storage"]

T = TypeVar("T")
Schema = Literal["upgrade", "check", "as-is"]
# What the loser of a race between workers creating the same tables or first rows sees
# (SQLAlchemy's, Alembic's and Optuna's checks are not atomic; PostgreSQL reports a concurrent
# CREATE TABLE as a duplicate pg_type row).
_RACED = ("already exists", "alembic_version", "UNIQUE constraint failed",
          "duplicate key value",
          # SQLite answers a writer that would deadlock with another at once, without waiting
          # out its busy timeout (a CI run: four workers creating one fresh file together).
          "database is locked")


class Storage(ProjectRows):
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
        schema: Schema | None = None,
    ) -> None:
        """``create``: make the database (and its tables) if missing. ``readonly``: open for
        reading only (no write of any kind; a SQLite file is opened ``mode=ro``), as the read
        commands do. ``schema``: ``"upgrade"`` the project's tables in place (the default of a
        writable ``create`` handle), ``"check"`` that they are current (the default of any
        other handle: a one-line error says to run ``automl db upgrade``), or take them
        ``"as-is"`` (``automl db current``)."""
        self.url = url
        # Parsed once: a bad URL is one line here, password masked (see automl.storage.urls).
        self.location = StorageUrl.parse(url)
        self.masked_url = self.location.masked
        self.readonly = readonly
        self.is_sqlite = self.location.is_sqlite
        self.location.check_file(exists=not create)
        self.artifacts_root = self.location.artifacts_root(artifacts)
        self._heartbeat = (heartbeat_interval, grace_period)
        self._engine = self._make_engine()
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self.schema = schema or ("upgrade" if create and not readonly else "check")
        if self.schema == "upgrade" and readonly:
            raise StorageError(f"storage {self.masked_url}: a read-only handle cannot upgrade")
        if self.schema == "upgrade":
            # Optuna's tables first, then ours: a reader that finds the project's tables (and
            # never creates any) finds Optuna's too.
            self._optuna  # noqa: B018
        # The revision the project's tables were at when opened (None: there were none).
        self.upgraded_from = self._open_schema()
        if self.schema == "upgrade" and not self._optuna_was_checked:
            migrate.mark_optuna_checked(self._engine)  # Optuna made or checked them just now

    # -- plumbing ---------------------------------------------------------------------------
    def mask(self, text: str) -> str:
        """``text`` with this storage's URL secrets masked, in whatever form it echoes them."""
        return self.location.mask(text)

    def _fail(self, exc: BaseException) -> StorageError:
        """One masked line for a driver error."""
        return StorageError(f"storage {self.masked_url}: {self.mask(_first_line(exc))}")

    def _engine_kwargs(self) -> dict[str, Any]:
        try:
            return engine_kwargs(self.location, readonly=self.readonly)
        except StorageError as exc:
            raise StorageError(self.mask(str(exc))) from None

    def _make_engine(self) -> Engine:
        kwargs: dict[str, Any] = {"pool_pre_ping": True, **self._engine_kwargs()}
        try:
            engine = create_engine(self.location.sqlalchemy, **kwargs)
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

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain connection for the storage package's raw-SQL readers (driver errors that
        reach it become one masked line; a reader may catch them first)."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._fail(exc) from exc

    def _racing_create(self, create: Callable[[], T]) -> T:
        """Run a CREATE-TABLE step that workers starting together may race on: the loser sees
        "already exists" or a duplicate Alembic version stamp and simply checks again."""
        for attempt in range(4):
            try:
                return create()
            except StorageError:
                raise
            except Exception as exc:  # Optuna wraps driver errors in several types
                raced = any(m in str(exc) for m in _RACED)
                if attempt == 3 or not raced:
                    raise self._fail(exc) from exc
                time.sleep(0.2 * (attempt + 1) * random.uniform(0.5, 1.5))  # not in step
        raise AssertionError("unreachable")

    def _open_schema(self) -> str | None:
        """Upgrade or check the project's tables; returns the revision they were at."""
        if self.schema == "upgrade":
            return self._racing_create(lambda: migrate.upgrade(self._engine, self.masked_url))
        with self.connection() as conn:
            rev = migrate.revision(conn) if self.schema == "as-is" else migrate.check(
                conn, self.masked_url)
        if rev is None and self.schema == "check":
            raise StorageError(f"storage {self.masked_url}: holds no automl studies")
        return rev

    def schema_revision(self) -> str | None:
        """The revision the project's tables are at now (None: there are none)."""
        with self.connection() as conn:
            return migrate.revision(conn)

    @cached_property
    def _optuna(self) -> RDBStorage:
        """Optuna's RDB storage on the same URL (imported lazily: optuna is slow to import).
        Only an upgrading handle lets Optuna create its tables."""
        import optuna

        from automl.storage.optuna_trial import ProjectRDBStorage

        kwargs: dict[str, Any] = {"engine_kwargs": self._engine_kwargs()}
        # Read once: Storage.__init__ records the check after the project's tables exist.
        checked = self._optuna_was_checked = migrate.optuna_checked(self._engine)
        if self.schema != "upgrade" or checked:
            kwargs["skip_table_creation"] = True
        if checked:  # this Optuna made or checked these tables before: a cached check
            kwargs["skip_compatibility_check"] = True
        interval, grace = self._heartbeat
        if interval:
            kwargs["heartbeat_interval"] = interval
            kwargs["grace_period"] = grace
            kwargs["heartbeat_stale_trial_callback"] = _retry_callback()
        url = self.location.connect_string()  # the password re-encoded, whatever it holds
        with warnings.catch_warnings():
            # Heartbeats and their retry callback are "experimental" since Optuna 2.9, stable
            # in practice; a command's stderr is for its own one-line messages.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return self._racing_create(lambda: ProjectRDBStorage(url, **kwargs))

    def close(self) -> None:
        self._engine.dispose()
        if "_optuna" in self.__dict__:
            self._optuna.remove_session()
            self._optuna.engine.dispose()

    # -- Optuna's side of a study -------------------------------------------------------------
    def create_study(self, name: str, **kwargs: Any) -> Study:
        """``optuna.create_study`` on this database (``load_if_exists`` etc. pass through)."""
        import optuna

        return optuna.create_study(study_name=name, storage=self._optuna, **kwargs)

    def load_study(self, name: str, **kwargs: Any) -> Study:
        """``optuna.load_study`` on this database; an unknown name is one line."""
        import optuna

        self.study_id(name)  # the one-line error first
        return optuna.load_study(study_name=name, storage=self._optuna, **kwargs)

    def study_id(self, name: str) -> int:
        """Optuna's id of study ``name`` (raises :class:`StorageError` if there is none)."""
        import optuna

        try:
            return self._optuna.get_study_id_from_name(name)
        except KeyError:
            raise self.missing_study(name) from None
        except optuna.exceptions.StorageInternalError as exc:
            raise self._fail(exc) from exc

    def optuna_studies(self) -> dict[str, list[str]]:
        """Every Optuna study in the database, automl's or not: name -> its directions
        ("maximize" / "minimize"); empty where Optuna's tables do not exist."""
        if self.schema != "upgrade" and not self.has_optuna_tables():
            return {}
        return {fs.study_name: [d.name.lower() for d in fs.directions]
                for fs in self._optuna.get_all_studies()}

    def frozen_trials(self, study: str) -> list[FrozenTrial]:
        """Optuna's trials of ``study``, through Optuna's own API (the portable, slower read:
        see :mod:`automl.storage.optuna_tables` for the fast one)."""
        return self._optuna.get_all_trials(self.study_id(study), deepcopy=False)

    def has_optuna_tables(self) -> bool:
        from sqlalchemy import inspect

        with self.connection() as conn:
            return inspect(conn).has_table("studies")

    # -- joined reads -----------------------------------------------------------------------
    def artifact_dir(self, study: str, number: int) -> tuple[Path, str]:
        """A trial's weights folder: (absolute path, path relative to the artifacts root, as
        the database stores it). See :mod:`automl.storage.artifacts`."""
        from automl.storage.artifacts import trial_dir

        rel = trial_dir(study, self.study_key(study), number)
        return self.artifacts_root / rel, rel

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


def _retry_callback() -> Any:
    import optuna

    # A candidate whose worker died is run again, up to 3 times (a candidate that kills its
    # worker every time, e.g. by running out of memory, must not loop forever).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return mask_text(text.splitlines()[0] if text else type(exc).__name__)
