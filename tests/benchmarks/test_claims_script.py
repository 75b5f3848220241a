"""A smoke run of benchmarks/claims.py: 16 simulated workers (threads in 2 processes) claim
short trials of one study on SQLite and on PostgreSQL; nothing lost, nothing run twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_run import ok_json, run_script

pytestmark = pytest.mark.slow


def test_claims_quick_loses_and_duplicates_nothing(storage_url: str, tmp_path: Path) -> None:
    out = tmp_path / "claims.json"
    r = ok_json(run_script("claims.py", "--storage", storage_url, "--workers", "16", "--quick",
                           "--procs", "2", "--json", str(out), timeout=400), out)["result"]
    assert r["claims"] == r["trials"] == r["finished"] == r["counted_in_study"] == 48
    assert r["lost"] == r["duplicated"] == 0
    assert r["left_running"] == r["left_waiting"] == r["worker_errors"] == 0, r["first_errors"]
    assert r["claims_per_s"] > 0 and 0 < r["claim_p50_s"] <= r["claim_p99_s"]
    assert r["lock_held_p50_s"] is not None
