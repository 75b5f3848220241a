"""Shared fixtures: storage back ends (SQLite file always; PostgreSQL when a URL is given);
under ``REQUIRE_OPTIONAL=1`` (set by .ci/run) a test skipped for want of something CI installs
fails instead."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "AUTOML_TEST_POSTGRES_URL"
REQUIRE_ENV = "REQUIRE_OPTIONAL"
# Skip reasons that mean "something CI installs is missing": pytest.importorskip's, the
# PostgreSQL fixture's, a missing program's ("/usr/bin/chromium missing"). Not "needs CUDA":
# no CI machine has a GPU, and tests marked ``gpu`` are never held to this.
OPTIONAL_MISSING = re.compile(rf"^could not import |{PG_ENV}| missing\b")


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Under ``REQUIRE_OPTIONAL=1``, a skip for want of an optional dependency or of the
    PostgreSQL URL is a failure: in CI such a test must run, not pass silently."""
    report: pytest.TestReport = yield
    if (report.skipped and os.environ.get(REQUIRE_ENV) == "1" and not hasattr(report, "wasxfail")
            and item.get_closest_marker("gpu") is None):
        reason = _skip_reason(report)
        if OPTIONAL_MISSING.search(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped, but {REQUIRE_ENV}=1 requires it to run: {reason}"
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
