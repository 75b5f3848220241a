"""Migrations of the project's own tables (``automl_*``), with Alembic.

Optuna's tables keep Optuna's own migrations (``optuna storage upgrade``); ours are in
``migrations/versions`` beside this module and record their revision in their own table,
``automl_alembic_version``, so the two never collide. A database written before migrations
existed has no such table, only the ``automl_meta`` row ``schema_version = 1``: it holds
revision 0001's tables (perhaps without ``automl_study_keys``, which older code added later),
and upgrading it runs 0001, which creates only what is missing, then stamps it.

Opening storage reads the revision with one SELECT and imports Alembic only when an upgrade is
due, so read paths stay fast and never write.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from automl.errors import StorageError
from automl.storage.schema import SCHEMA_VERSION

VERSION_TABLE = "automl_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
# Every revision in migrations/versions, oldest first (a test checks this against Alembic's
# own reading of the folder): the fast path knows them without importing Alembic.
REVISIONS = ("0001",)
HEAD = REVISIONS[-1]
# Revision 0001's tables; a database holding all of them but no version table was written by
# the code before migrations and is at 0001 in all but the stamp.
TABLES_0001 = ("automl_meta", "automl_studies", "automl_study_keys", "automl_trials",
               "automl_runs", "automl_locks", "automl_epochs")
BEFORE_0001 = "pre-0001"  # project tables without a stamp, some of 0001's missing
_PG_LOCK = 0x6175746F6D6C  # b"automl": serializes upgrades by workers starting together


def revision(conn: Connection) -> str | None:
    """The revision the project's tables are at; None where there are none (an empty or a
    foreign database)."""
    return _state(conn)[0]


def _state(conn: Connection) -> tuple[str | None, bool]:
    """(revision, whether a version row says so)."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if found:
            return str(sorted(found)[-1]), True
    return _unstamped(conn, tables), False


def _unstamped(conn: Connection, tables: set[str]) -> str | None:
    if "automl_studies" not in tables:
        return None
    meta = conn.execute(
        text("SELECT value FROM automl_meta WHERE key = 'schema_version'")
    ).scalar() if "automl_meta" in tables else None
    if meta is not None and meta.isdigit() and int(meta) > SCHEMA_VERSION:
        return f"schema_version {meta}"  # a newer automl, from before migrations: unknown
    return "0001" if tables.issuperset(TABLES_0001) else BEFORE_0001


OPTUNA_CHECKED = "optuna_checked"  # automl_meta key: the Optuna version that made its tables


def optuna_checked(engine: Engine) -> bool:
    """Whether this database records that the running Optuna created or checked its tables;
    then opening it skips Optuna's own check (Alembic walking its migration scripts, a tenth
    of a second per process). Another Optuna version checks again."""
    import optuna

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM automl_meta WHERE key = :k"),
                                {"k": OPTUNA_CHECKED}).scalar() == optuna.__version__
    except SQLAlchemyError:  # no project tables yet
        return False


def mark_optuna_checked(engine: Engine) -> None:
    """Record the running Optuna's check (see :func:`optuna_checked`); best effort: a cache."""
    import optuna

    with contextlib.suppress(SQLAlchemyError):  # a peer's write or a read-only file: fine
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM automl_meta WHERE key = :k"), {"k": OPTUNA_CHECKED})
            conn.execute(text("INSERT INTO automl_meta (key, value) VALUES (:k, :v)"),
                         {"k": OPTUNA_CHECKED, "v": optuna.__version__})


def is_known(rev: str | None) -> bool:
    return rev is None or rev == BEFORE_0001 or rev in REVISIONS


def newer_error(masked_url: str, rev: str) -> StorageError:
    return StorageError(
        f"storage {masked_url}: written by a newer automl (its tables are at revision {rev}; "
        f"this automl knows up to {HEAD}); upgrade automl to open it"
    )


def check(conn: Connection, masked_url: str) -> str | None:
    """For a handle that must not write: the revision, if this code can read it; else one line
    saying what to do."""
    rev = revision(conn)
    if rev is None or rev == HEAD:
        return rev
    if not is_known(rev):
        raise newer_error(masked_url, rev)
    raise StorageError(
        f"storage {masked_url}: its automl tables are at revision {rev}, this automl needs "
        f"{HEAD}; run `automl db upgrade --storage URL` first"
    )


def upgrade(engine: Engine, masked_url: str) -> str | None:
    """Bring the project's tables to :data:`HEAD` in place (creating them in an empty
    database); returns the revision they were at. Workers that start together: on PostgreSQL
    an advisory lock takes them in turn; on SQLite the loser of a race sees "already exists"
    or a duplicate version row, and the caller simply runs this again."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        before, stamped = _state(conn)
        if before == HEAD and stamped:
            return before
        if not is_known(before):
            raise newer_error(masked_url, str(before))
        _alembic_upgrade(conn, "head")
    return before


def _alembic_upgrade(conn: Connection, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn  # env.py runs on this connection, in its transaction
    command.upgrade(cfg, target)


def script_revisions() -> list[str]:
    """The revisions Alembic reads from the migrations folder, oldest first (for tests)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]
