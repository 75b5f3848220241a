"""Runs and locks: what lets several workers (and a restarted worker) share one study and still
stop at exactly the requested number of finished trials.

Three kinds of lock, all rows of ``automl_locks``: :func:`lease` (a conditional UPDATE with a
time-to-live: any database, waiters poll), :func:`claim_lock` (the same lease, except on
PostgreSQL, where waiters queue on the row's lock and are woken by the holder's commit, so many
workers take turns without polling) and :func:`take_turn` (never waits: at most one caller per
period, for a periodic job any worker may do).
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import String, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from automl.errors import StorageError
from automl.storage.schema import LockRow, RunRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from automl.storage.store import Storage

LOCK_TTL_S = 10.0  # a holder that dies frees the lock after this long (held for < 1 s)
LEASE_WAIT_ENV = "AUTOML_DB_LEASE_WAIT"
LEASE_WAIT_S = 120.0
LEASE_POLL_S, LEASE_POLL_MAX_S = 0.05, 1.0  # first and longest pause between tries


@dataclass(frozen=True)
class Run:
    id: int
    study: str
    requested: int
    target: int
    resumed: bool


@contextlib.contextmanager
def lease(storage: Storage, name: str, ttl: float = LOCK_TTL_S, wait: float | None = None
          ) -> Iterator[None]:
    """Hold the named lock; a conditional UPDATE makes taking it atomic on any database.
    ``wait`` (default ``$AUTOML_DB_LEASE_WAIT``, else 120 s): many workers take turns at one
    lock, so a launcher raises it with their number (a dead holder frees it after ``ttl``)."""
    from automl.storage.engine import seconds

    holder = uuid.uuid4().hex
    wait = seconds(LEASE_WAIT_ENV, LEASE_WAIT_S) if wait is None else wait
    deadline = time.monotonic() + wait
    ensure_lock(storage, name)
    delay = LEASE_POLL_S
    while True:
        now = time.time()
        with storage.session() as s:
            taken = s.execute(  # type: ignore[attr-defined]  # CursorResult.rowcount
                update(LockRow)
                .where(LockRow.name == name, (LockRow.holder.is_(None)) | (LockRow.expires < now))
                .values(holder=holder, expires=now + ttl)
            ).rowcount
        if taken == 1:
            break
        if time.monotonic() > deadline:
            raise StorageError(f"could not take lock {name!r} within {wait:.0f} s")
        # Backing off (with jitter) keeps N waiting workers from hammering the database with
        # N x 20 UPDATEs a second, which slowed the holder itself (benchmarks/db_workers.py).
        time.sleep(random.uniform(0.5, 1.0) * delay)
        delay = min(LEASE_POLL_MAX_S, delay * 1.5)
    try:
        yield
    finally:
        with storage.session() as s:
            s.execute(update(LockRow).where(LockRow.name == name, LockRow.holder == holder)
                      .values(holder=None, expires=0.0))


def ensure_lock(storage: Storage, name: str) -> None:
    """Create the named lock's row if it does not exist yet (free, never taken)."""
    with contextlib.suppress(StorageError):  # someone else created the row first: fine
        with storage.session() as s:
            if s.get(LockRow, name) is None:
                s.execute(insert(LockRow).values(name=name, holder=None, expires=0.0))


# claim_lock's two statements, built once (every claim runs them).
_SETTINGS = select(
    func.set_config("lock_timeout", bindparam("lock_ms", type_=String), True),
    func.set_config("idle_in_transaction_session_timeout", bindparam("idle_ms", type_=String),
                    True),
    func.set_config("synchronous_commit", "off", True))
_LOCK_ROW = (select(LockRow.name).where(LockRow.name == bindparam("name", type_=String))
             .with_for_update())


@contextlib.contextmanager
def claim_lock(storage: Storage, name: str, ttl: float = LOCK_TTL_S, wait: float | None = None
               ) -> Iterator[Connection]:
    """Hold the named lock for a few statements; yields a connection for them, in a
    transaction committed when the lock is given back (a claim creates its trial there).

    On PostgreSQL the lock is the row's own (``SELECT ... FOR UPDATE`` in a transaction kept
    open on the yielded connection): a waiter sleeps in the server's queue and wakes when the
    holder commits, where :func:`lease`'s waiters poll with growing pauses and, at a few
    hundred workers, spend most of a turn asleep after it was free. A dead holder's connection
    closes and frees the lock at once; a stuck one is cut off after ``ttl`` idle in its
    transaction. Elsewhere (SQLite) it is :func:`lease`."""
    from automl.storage.engine import seconds

    if storage.location.backend != "postgresql":
        # A transaction, committed as the lease ends: a claim creates its trial on ``conn``.
        with lease(storage, name, ttl, wait), storage.connection() as conn, conn.begin():
            yield conn
        return
    wait = seconds(LEASE_WAIT_ENV, LEASE_WAIT_S) if wait is None else wait
    for attempt in range(2):
        with storage.connection() as conn, conn.begin():
            # Transaction-local (set_config's third argument): the pooled connection goes back
            # with the engine's own settings. The row lock writes the row, so its commit would
            # wait for a disk flush (a few ms, while holding the lock): nothing in it needs
            # to survive a crash of the server, which ends every holder anyway.
            conn.execute(_SETTINGS, {"lock_ms": str(max(1, int(wait * 1000))),
                                     "idle_ms": str(max(1, int(ttl * 1000)))})
            try:
                row = conn.execute(_LOCK_ROW, {"name": name}).first()
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    raise StorageError(f"could not take lock {name!r} within {wait:.0f} s"
                                       ) from None
                raise
            if row is not None:
                yield conn
                return
        if attempt == 0:
            ensure_lock(storage, name)  # the first claim of a study: no row to lock yet
    raise StorageError(f"could not create lock {name!r}")


def take_turn(storage: Storage, name: str, every_s: float) -> bool:
    """Whether the caller is the one to do the named periodic job now: of any number of
    workers asking, at most one a period of ``every_s`` seconds gets True. Never waits (the
    row is taken by one conditional UPDATE and not given back: it expires)."""
    now = time.time()
    with storage.session() as s:
        taken = s.execute(  # type: ignore[attr-defined]  # CursorResult.rowcount
            update(LockRow).where(LockRow.name == name, LockRow.expires <= now)
            .values(holder=uuid.uuid4().hex, expires=now + every_s)
        ).rowcount
    return bool(taken == 1)


def start_or_resume(storage: Storage, study: str, fingerprint: str, requested: int,
                    finished_now: int) -> Run:
    """Join the run with this fingerprint (its goal becomes ``requested`` finished trials), or
    start one that adds ``requested`` finished trials (``target`` = the study's finished count it
    aims at, for the record).
    Call under :func:`lease` so two workers starting together create one run, not two."""
    with storage.session() as s:
        row = s.scalars(
            select(RunRow)
            .where(RunRow.study_name == study, RunRow.fingerprint == fingerprint)
            .order_by(RunRow.id.desc())
        ).first()
        if row is not None:
            # The same config again: resume (or, if it is complete, do nothing) rather than add
            # another batch, so a command killed at any moment, even just after its last trial,
            # can simply be run again. A larger --trials extends the run.
            row.target += requested - row.requested
            row.requested = requested
            row.status = "running"  # the first claim marks it done again if nothing is left
            return Run(row.id, study, row.requested, row.target, resumed=True)
        row = RunRow(study_name=study, fingerprint=fingerprint, requested=requested,
                     target=finished_now + requested, status="running")
        s.add(row)
        try:
            s.flush()
        except IntegrityError as exc:  # pragma: no cover - guarded by the lease
            raise StorageError(f"could not record the run of study {study!r}") from exc
        return Run(row.id, study, requested, row.target, resumed=False)


def finish_run(storage: Storage, run_id: int) -> None:
    with storage.session() as s:
        s.execute(update(RunRow).where(RunRow.id == run_id).values(status="done"))
