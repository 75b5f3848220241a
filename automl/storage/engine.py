"""Engine options for every database: timeouts, SQLite pragmas, read-only opening.

A server that accepts connections and never answers must not hang a command: PostgreSQL
connections get a connect timeout and server-side statement and lock timeouts (the project's
engine and Optuna's alike). SQLite keeps its busy timeout. A read-only open never writes: no
``create_all``, no ``PRAGMA journal_mode=WAL``; a SQLite file is opened with ``mode=ro`` (and
``immutable=1`` where the folder cannot hold the ``-shm`` file WAL readers need).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automl.errors import StorageError

if TYPE_CHECKING:
    from automl.storage.urls import StorageUrl

SQLITE_TIMEOUT_S = 60  # several workers on one SQLite file wait for the lock instead of failing
CONNECT_TIMEOUT_ENV = "AUTOML_DB_CONNECT_TIMEOUT"
STATEMENT_TIMEOUT_ENV = "AUTOML_DB_STATEMENT_TIMEOUT"
LOCK_TIMEOUT_ENV = "AUTOML_DB_LOCK_TIMEOUT"
CONNECT_TIMEOUT_S = 10.0
# Per statement: the slowest read (a 10,000-trial study for the dashboard) takes seconds.
STATEMENT_TIMEOUT_S = 300.0
LOCK_TIMEOUT_S = 60.0  # rows are locked for milliseconds; a minute means a stuck peer
_LIBPQ_DRIVERS = ("", "psycopg", "psycopg2", "psycopg2cffi")  # "": the default driver
# Connections each engine keeps open (a worker has two engines: the project's and Optuna's).
# Unset: SQLAlchemy's default (5 + 10 overflow), right for the dashboard's threads. A launcher
# sets it for its workers so N workers hold about 2 N connections (automl/storage/capacity.py).
POOL_SIZE_ENV = "AUTOML_DB_POOL_SIZE"
POOL_TIMEOUT_S = 120  # a worker waits this long for a free pooled connection


def seconds(env: str, default: float) -> float:
    """A timeout from the environment (seconds > 0), else ``default``."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise StorageError(f"{env} must be a positive number of seconds, got {raw!r}")
    return value


def pool_kwargs() -> dict[str, Any]:
    """Pool sizing from ``$AUTOML_DB_POOL_SIZE`` (server databases only): that many connections
    kept open per engine, as many again opened for a burst and closed after it."""
    raw = os.environ.get(POOL_SIZE_ENV, "").strip()
    if not raw:
        return {}
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise StorageError(f"{POOL_SIZE_ENV} must be a whole number in [1, 1000], got {raw!r}")
    return {"pool_size": int(raw), "max_overflow": int(raw), "pool_timeout": POOL_TIMEOUT_S}


def engine_kwargs(url: StorageUrl, *, readonly: bool = False) -> dict[str, Any]:
    """``create_engine`` keyword arguments for ``url`` (shared with Optuna's RDBStorage)."""
    if url.is_sqlite:
        kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        if readonly and url.sqlite_file is not None:
            kwargs["creator"] = readonly_sqlite(url.sqlite_file)
        return kwargs
    query = url.sqlalchemy.query
    connect = max(1, math.ceil(seconds(CONNECT_TIMEOUT_ENV, CONNECT_TIMEOUT_S)))
    if url.backend == "postgresql" and url.driver in _LIBPQ_DRIVERS:
        args: dict[str, Any] = {}
        if "connect_timeout" not in query:  # the URL's own setting wins
            args["connect_timeout"] = connect
        ms = {name: int(seconds(env, default) * 1000) for name, env, default in (
            ("statement_timeout", STATEMENT_TIMEOUT_ENV, STATEMENT_TIMEOUT_S),
            ("lock_timeout", LOCK_TIMEOUT_ENV, LOCK_TIMEOUT_S))}
        settings = [f"-c {name}={value}" for name, value in ms.items()]
        if readonly:
            settings.append("-c default_transaction_read_only=on")
        given = query.get("options")
        if given:  # later -c settings win: the user's come last
            settings.extend([given] if isinstance(given, str) else list(given))
        args["options"] = " ".join(settings)
        return {"connect_args": args, **pool_kwargs()}
    if url.backend == "mysql" and "connect_timeout" not in query:
        return {"connect_args": {"connect_timeout": connect}}
    return {}


def readonly_sqlite(path: Path) -> Callable[[], sqlite3.Connection]:
    """A connection factory that opens ``path`` read-only, whoever owns the file and folder."""
    path = path.resolve()

    def connect() -> sqlite3.Connection:
        shm = path.with_name(path.name + "-shm")
        # WAL readers need the -shm file; without it and without a writable folder to create
        # it in, only an immutable open can read (it ignores other writers: fine for a
        # database nobody can write here).
        immutable = not os.access(path.parent, os.W_OK) and not shm.exists()
        uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S, check_same_thread=False)

    return connect


def sqlite_pragmas(readonly: bool) -> Callable[[Any, Any], None]:
    """The ``connect`` listener for SQLite engines."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # First: switching a fresh file to WAL takes a lock another worker may hold.
        cur.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_S * 1000}")
        if readonly:
            cur.execute("PRAGMA query_only=ON")
        else:
            # WAL lets readers (the dashboard) run beside a writer. In WAL mode NORMAL still
            # survives a killed process (only a power cut can lose the last commits) and saves
            # an fsync per commit: per-epoch curves commit often.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return on_connect
