"""Running a benchmark script as a user does, for the tests of tests/benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str, cwd: Path = ROOT,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/SCRIPT ARGS`` in ``cwd``."""
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def ok_json(proc: subprocess.CompletedProcess[str], out: Path) -> Any:
    """The JSON the script wrote to ``out``, once it exited 0."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())
