"""Helpers of the storage tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, inspect


def _table_names(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def tables() -> Callable[[str], list[str]]:
    """The sorted table names of a database, read by an engine of the test's own."""
    return _table_names
