"""Fixtures for the export tests: real tiny searches run through the CLI, and a bundle exported
from one, each made once per session whatever the number of xdist workers (a file lock guards
a shared folder, as in tests/dashboard)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
STUDY = "tiny"


def run_cli(*args: str, cwd: Path, check: bool = True, timeout: float = 300,
            ) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user runs it (``AUTOML_STORAGE`` unset)."""
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_STORAGE"}
    env["PYTHONPATH"] = str(REPO)  # this checkout, whatever the working directory
    proc = subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"automl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@dataclass(frozen=True)
class Lab:
    """A folder holding ``automl.db`` (study ``tiny``) and ``best/`` (its best trial with
    ``--quantize int8``); ``cli`` runs the CLI there."""

    root: Path
    best: Path
    best_spec: dict[str, Any]
    cli: Callable[..., subprocess.CompletedProcess[str]]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.root / 'automl.db'}"


def _shared(factory: pytest.TempPathFactory, name: str) -> Path:
    # Under pytest-xdist every worker has its own basetemp; their parent is common to all.
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    root.mkdir(exist_ok=True)
    return root


def _once(root: Path, make: Callable[[], None]) -> None:
    from filelock import FileLock

    with FileLock(str(root / "lock")):
        if not (root / "done").exists():
            make()
            (root / "done").write_text("ok")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A real search (3 cnn2d trials of 2 epochs on digits) and its best trial exported."""
    root = _shared(tmp_path_factory, "export_lab")

    def cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=kw.pop("cwd", root), **kw)

    def make() -> None:
        cli("search", "--data", "digits", "--study", STUDY, "--trials", "3", "--epochs", "2",
            "--quiet", "--set", "search.arch=cnn2d", "--set", "trainer.num_threads=1",
            "--set", "trainer.latency_repeats=3")
        out = cli("export", STUDY, "--out", "best", "--quantize", "int8", "--json")
        (root / "best.json").write_text(out.stdout)

    _once(root, make)
    report = json.loads((root / "best.json").read_text())
    return Lab(root, root / "best", report["bundles"][0]["spec"], cli)


@pytest.fixture(scope="session")
def error_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with study ``pruned`` (every trial over a parameter limit, so no weights)
    and study ``broken`` (its one trial FAILed: fp16 needs CUDA)."""
    root = _shared(tmp_path_factory, "export_errors")

    def make() -> None:
        common = ("--data", "digits", "--epochs", "1", "--quiet",
                  "--set", "trainer.latency_repeats=3")
        # Without the cost-frugal start: the cheapest cnn2d it queues is under the limit.
        run_cli("search", *common, "--study", "pruned", "--trials", "2",
                "--set", "search.arch=cnn2d", "--set", "limits.max_params=1000",
                "--set", "search.cheap_start='never'", cwd=root)
        run_cli("search", *common, "--study", "broken", "--trials", "1",
                "--set", "search.arch=mlp", "--set", "trainer.precision=fp16", cwd=root)

    _once(root, make)
    return root
