"""Fixtures for the dashboard tests: a database made by a small real search (the suite's tiny
study, once per session whatever the number of xdist workers, shared with the export tests)
and one written with the storage API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_kit import TINY_STUDY, tiny_study
from dashboard_db import Db, build_mixed

SEARCH_STUDY = TINY_STUDY


@pytest.fixture(scope="session")
def search_db(tmp_path_factory: pytest.TempPathFactory) -> Db:
    """A database made by a real tiny search (3 trials of 2 epochs on digits), run once for
    the whole session, whatever the number of xdist workers (:func:`cli_kit.tiny_study`)."""
    root = tiny_study(tmp_path_factory)
    db = root / "automl.db"
    url = f"sqlite:///{db}"
    return Db(url, db, SEARCH_STUDY)


@pytest.fixture(scope="session")
def mixed_db(tmp_path_factory: pytest.TempPathFactory) -> Db:
    return build_mixed(f"sqlite:///{tmp_path_factory.mktemp('mixed') / 'mixed.db'}")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Every AppTest starts cold: caches of an earlier test must not answer for this one."""
    from dashboard import loaders

    loaders.clear()
    yield monkeypatch
    loaders.clear()
