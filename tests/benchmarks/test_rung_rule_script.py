"""A smoke run of benchmarks/rung_rule.py: one tiny search under each first-rung rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_run import run_script

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("rule", ["plan", "e8"])
def test_rung_rule_runs_one_search_per_rule(tmp_path: Path, rule: str) -> None:
    # 4 epochs a trial instead of those adapted to wine (38): the same code runs under each
    # rule, in about a third of the time.
    proc = run_script("rung_rule.py", "--run-one", "wine", "0", rule, "--trials", "2",
                      "--epochs", "4", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (row["set"], row["seed"], row["rule"], row["trials"]) == ("wine", 0, rule, 2)
    assert row["test_accuracy"] > 1 / 3  # wine has 3 classes: above chance
