"""Fixtures for the automl tests: the CLI in a real process (``cli``) or in this one
(``cli_here``), both from :mod:`cli_kit`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_kit import run_cli, run_here

__all__ = ["run_cli", "run_here"]


def cli_json(*args: str, cwd: Path, runner: Any = run_cli) -> Any:
    return json.loads(runner(*args, "--json", cwd=cwd).stdout)


@pytest.fixture
def cli(tmp_path: Path):  # noqa: ANN201
    def _run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=tmp_path, **kw)

    _run.json = lambda *args: cli_json(*args, cwd=tmp_path)  # type: ignore[attr-defined]
    _run.cwd = tmp_path  # type: ignore[attr-defined]
    return _run


@pytest.fixture
def cli_here(tmp_path: Path):  # noqa: ANN201
    """As ``cli``, through the same entry point in this process (:func:`cli_kit.run_here`):
    for tests of what a search decides, where the process itself is not the point."""
    def _run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_here(*args, cwd=tmp_path, **kw)

    _run.json = lambda *args: cli_json(  # type: ignore[attr-defined]
        *args, cwd=tmp_path, runner=run_here)
    _run.cwd = tmp_path  # type: ignore[attr-defined]
    return _run
