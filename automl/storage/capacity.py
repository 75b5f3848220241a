"""How many more connections a PostgreSQL server takes: what a launcher checks before it starts
N workers, so that a search fails at once with one line rather than with "too many clients"
in the middle of a trial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from automl.storage.store import Storage

# Per worker process with $AUTOML_DB_POOL_SIZE=1: one connection held by each of its two
# engines (the project's, Optuna's); a burst opens at most one more each, for milliseconds.
HELD_PER_WORKER = 2
PEAK_PER_WORKER = 4


@dataclass(frozen=True)
class Connections:
    """A server's connection limit (less the slots reserved for superusers) and its use now."""

    limit: int
    in_use: int

    @property
    def free(self) -> int:
        return max(0, self.limit - self.in_use)


def server_connections(storage: Storage) -> Connections | None:
    """The server's connection budget, or None where there is none to check (SQLite, MySQL)."""
    if storage.location.backend != "postgresql":
        return None
    with storage.session() as s:
        limit = int(s.execute(text("SHOW max_connections")).scalar_one())
        reserved = int(s.execute(text("SHOW superuser_reserved_connections")).scalar_one())
        in_use = int(s.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )).scalar_one())
    return Connections(limit - reserved, in_use)


def database_connections(storage: Storage) -> int:
    """Client connections to this storage's database now (for benchmarks and tests)."""
    with storage.session() as s:
        return int(s.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        )).scalar_one())


def database_host(storage: Storage) -> str | None:
    """The host name of a server database (None for SQLite)."""
    return None if storage.is_sqlite else storage.location.host
