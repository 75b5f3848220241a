"""``benchmarks/serve_load.py`` still runs and writes the JSON RESULTS.md quotes (tiny sizes:
behaviour, not figures; the pattern of tests/benchmarks/test_benchmark_scripts.py, with the lab
bundle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_serve_load_writes_rows_goals_and_chunked_figure(lab, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "serve_load.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve_load.py"), "--quick", "--bundle",
         str(lab.best), "--backends", "onnx", "--concurrency", "1", "4", "--requests", "12",
         "--chunked-mb", "5", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert [(row["batch_wait_ms"], row["clients"]) for row in r["rows"]] == [
        (None, 1), (None, 4), (2.0, 1), (2.0, 4)]
    for row in r["rows"]:
        assert row["errors"] == 0 and row["requests"] >= 12 and row["p99_ms"] >= row["p50_ms"]
    assert [g["clients"] for g in r["goals"]] == [4, 4] and r["model_ms"]["onnx"] > 0
    assert r["chunked"]["status"] == 413 and r["chunked"]["growth_mb"] < 40
    assert "| onnx | 2 ms | 4 |" in proc.stdout and "goal onnx" in proc.stdout
