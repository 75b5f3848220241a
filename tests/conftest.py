"""Shared fixtures: storage back ends (SQLite file always; PostgreSQL when a URL is given)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "AUTOML_TEST_POSTGRES_URL"


def _postgres_database(base_url: str) -> Iterator[str]:
    """A fresh, empty database per test on the server of ``base_url`` (dropped afterwards)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"automl_t_{uuid.uuid4().hex[:12]}"
    conninfo = dict(host=url.host, port=url.port or 5432, user=url.username,
                    password=url.password, dbname=url.database)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage contract test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'automl.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    yield from _postgres_database(base)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with slow (end-to-end) tests first, each module kept whole (its module fixtures
    are built once): with xdist's ``worksteal`` scheduling (the Makefile's) the two workers
    then end on short tests together, instead of one running a minute-long test alone. The
    longest (``@pytest.mark.slow(first=True)``) go before all."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    first = {item.module for item in items
             if (m := item.get_closest_marker("slow")) is not None and m.kwargs.get("first")}
    # stable: the collection order is kept within each group
    items.sort(key=lambda item: (item.module not in first, item.module not in slow_modules))
