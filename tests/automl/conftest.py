from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AUTOML = [sys.executable, "-m", "automl"]


def run_cli(*args: str, cwd: Path, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (no mocks), as a user would."""
    full_env = {**os.environ, "AUTOML_STORAGE": "", **(env or {})}
    full_env.pop("AUTOML_STORAGE") if not full_env["AUTOML_STORAGE"] else None
    proc = subprocess.run([*AUTOML, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"automl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def cli_json(*args: str, cwd: Path) -> Any:
    return json.loads(run_cli(*args, "--json", cwd=cwd).stdout)


@pytest.fixture
def cli(tmp_path: Path):  # noqa: ANN201
    def _run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=tmp_path, **kw)

    _run.json = lambda *args: cli_json(*args, cwd=tmp_path)  # type: ignore[attr-defined]
    _run.cwd = tmp_path  # type: ignore[attr-defined]
    return _run
