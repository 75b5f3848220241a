"""The rule of tests/conftest.py: under ``REQUIRE_OPTIONAL=1`` (CI) a test skipped because an
optional dependency, a program CI installs or the PostgreSQL URL is missing fails; other skips,
and tests marked ``gpu``, still skip. Shown on a tiny test file run by pytest in a subprocess
with this suite's conftest as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

TINY = '''
import pytest

def test_module_missing():
    pytest.importorskip("automl_no_such_module")

def test_on_each_backend(storage_url):
    pass

@pytest.mark.skipif(True, reason="/usr/bin/no-such-browser missing")
def test_program_missing():
    pass

@pytest.mark.gpu
def test_gpu_only():
    pytest.importorskip("automl_no_such_cuda_module")

def test_skipped_for_another_reason():
    pytest.skip("this machine has Slurm")

@pytest.mark.skipif(True, reason="needs CUDA")
def test_needs_cuda():
    pass
'''


def _outcomes(tmp_path: Path, require: str | None) -> dict[str, str]:
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOML_TEST_POSTGRES_URL",
                                                               "REQUIRE_OPTIONAL")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if require is not None:
        env["REQUIRE_OPTIONAL"] = require
    xml = tmp_path / "out.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
                    "-p", "no:xdist", "-q", "--rootdir", str(tmp_path), "-c", os.devnull,
                    f"--junitxml={xml}", str(tmp_path / "test_tiny.py")],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out[case.get("name", "")] = kinds[0] if kinds else "passed"
    return out


def test_skips_for_what_ci_installs_fail_under_require_optional(tmp_path: Path) -> None:
    assert _outcomes(tmp_path, "1") == {
        "test_module_missing": "failure",
        "test_on_each_backend[sqlite]": "passed",
        "test_on_each_backend[postgres]": "error",  # the fixture's skip: in setup
        "test_program_missing": "error",
        "test_gpu_only": "skipped",
        "test_skipped_for_another_reason": "skipped",
        "test_needs_cuda": "skipped",
    }


@pytest.mark.parametrize("require", [None, "0"])
def test_without_require_optional_they_skip(tmp_path: Path, require: str | None) -> None:
    outcomes = _outcomes(tmp_path, require)
    assert outcomes.pop("test_on_each_backend[sqlite]") == "passed"
    assert set(outcomes.values()) == {"skipped"}, outcomes
