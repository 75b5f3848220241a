"""Fixtures for the dashboard tests: a database made by a small real search (through the CLI,
once per session whatever the number of xdist workers) and one written with the storage API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_db import REPO, Db, build_mixed

SEARCH_STUDY = "digits-mini"


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    # Under pytest-xdist every worker has its own basetemp; their parent is common to all.
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def search_db(tmp_path_factory: pytest.TempPathFactory) -> Db:
    """A database made by a real tiny search (3 trials of 2 epochs on digits), run once for
    the whole session, whatever the number of xdist workers."""
    from filelock import FileLock

    root = _shared_root(tmp_path_factory) / "dashboard_search"
    root.mkdir(exist_ok=True)
    db = root / "search.db"
    url = f"sqlite:///{db}"
    with FileLock(str(root / "lock")):
        if not (root / "done").exists():
            cmd = [sys.executable, "-m", "automl", "search", "--data", "digits",
                   "--study", SEARCH_STUDY, "--storage", url, "--trials", "3", "--epochs", "2",
                   "--seed", "1", "--quiet", "--set", "search.arch=mlp",
                   "--set", "trainer.latency_repeats=3"]
            # cwd: the repository, so `python -m automl` imports this checkout.
            run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, f"the search failed:\n{run.stderr[-3000:]}"
            (root / "done").write_text("ok")
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
