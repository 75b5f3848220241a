"""The benchmark scripts still run and write the JSON keys RESULTS.md and the issue name.

Tiny sizes only: these check behaviour (arguments, output, JSON), not figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_deep_memory_writes_goal_figures(tmp_path: Path) -> None:
    out = tmp_path / "deep.json"
    proc = _run(
        "deep_memory.py",
        "--layers",
        "40",
        "--sizes",
        "4x8,8x8",
        "--steps",
        "1",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r["layers"] == 40 and r["goal_size"] == "8x8"
    assert [(s["width"], s["batch"]) for s in r["sizes"]] == [(4, 8), (8, 8)]
    last = r["sizes"][-1]
    assert r["memory_ratio"] == last["memory_ratio"] and r["time_ratio"] == last["time_ratio"]
    for s in r["sizes"]:
        # sqrt keeps ~sqrt(n) segment inputs instead of every activation.
        assert s["peak_mb_sqrt"] < s["peak_mb_none"]
        assert s["step_s_none"] > 0 and s["step_s_sqrt"] > 0 and s["time_ratio_floor"] > 1
    assert "goal (8x8)" in proc.stdout


def test_deep_memory_rejects_a_bad_size() -> None:
    proc = _run("deep_memory.py", "--sizes", "8xq")
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr and "WIDTHxBATCH" in proc.stderr
