"""``automl search --nproc-per-trial 2`` end to end on digits, then the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_kit import run_cli

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _automl(*args: str, cwd: Path) -> str:
    return run_cli(*args, cwd=cwd).stdout


def test_search_with_two_processes_per_trial_fills_the_cost_columns(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'a.db'}"
    _automl(
        "search", "--data", "digits", "--study", "ddp", "--storage", storage, "--trials", "2",
        "--epochs", "2", "--nproc-per-trial", "2", "--quiet", "--set", "search.arch=mlp",
        cwd=tmp_path,
    )  # fmt: skip
    rows = json.loads(_automl("leaderboard", "ddp", "--storage", storage, "--json", cwd=tmp_path))
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert complete, rows
    for row in complete:
        assert isinstance(row["peak_memory_mb"], float) and row["peak_memory_mb"] > 0
        assert isinstance(row["comm_bytes_per_step"], float) and row["comm_bytes_per_step"] > 0
