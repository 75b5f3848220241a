"""Read paths never create or alter a table: a handle opened with ``create=False`` or
``readonly=True`` leaves an empty or foreign database exactly as it found it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from sqlalchemy import create_engine, text

from automl.errors import StorageError
from automl.storage import Storage, migrate

OPENS = [{"create": False}, {"create": False, "readonly": True}]


def _touch(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).touch()


@pytest.mark.parametrize("kwargs", OPENS, ids=["create=False", "readonly"])
def test_an_empty_database_stays_empty(storage_url: str, kwargs: dict,
        tables: Callable) -> None:
    _touch(storage_url)
    with pytest.raises(StorageError, match="holds no automl studies"):
        Storage(storage_url, **kwargs)
    assert tables(storage_url) == []


@pytest.mark.parametrize("kwargs", OPENS, ids=["create=False", "readonly"])
def test_a_foreign_database_is_left_alone(storage_url: str, kwargs: dict,
        tables: Callable) -> None:
    optuna.create_study(study_name="theirs", storage=storage_url)  # plain Optuna
    engine = create_engine(storage_url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE other_app (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    before = tables(storage_url)
    with pytest.raises(StorageError, match="holds no automl studies"):
        Storage(storage_url, **kwargs)
    assert tables(storage_url) == before


@pytest.mark.parametrize("kwargs", OPENS, ids=["create=False", "readonly"])
def test_reads_of_a_database_without_optunas_tables_create_none(storage_url: str,
        kwargs: dict, tables: Callable) -> None:
    engine = create_engine(storage_url)
    migrate.upgrade(engine, "db")  # the project's tables only (a search makes both at once)
    engine.dispose()
    before = tables(storage_url)
    assert "studies" not in before and migrate.VERSION_TABLE in before
    st = Storage(storage_url, **kwargs)
    assert st.list_studies() == [] and st.optuna_studies() == {}
    with pytest.raises(StorageError, match="no study named 'x'"):
        st.trials("x")
    with pytest.raises(StorageError):
        st.load_study("x")
    st.close()
    assert tables(storage_url) == before
