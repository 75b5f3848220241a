"""Runs and lease locks: what lets several workers (and a restarted worker) share one study
and still stop at exactly the requested number of finished trials."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from automl.errors import StorageError
from automl.storage.schema import LockRow, RunRow

if TYPE_CHECKING:
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
    with contextlib.suppress(StorageError):  # someone else created the row first: fine
        with storage.session() as s:
            if s.get(LockRow, name) is None:
                s.execute(insert(LockRow).values(name=name, holder=None, expires=0.0))
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
