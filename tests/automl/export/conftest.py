"""Fixtures for the export tests: the suite's tiny study (:func:`cli_kit.tiny_study`), a bundle
exported from it, and a database of failed searches, each made once per session whatever the
number of xdist workers (a file lock guards a shared folder)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_kit import TINY_STUDY, once, run_cli, run_here, shared_dir, tiny_study

REPO = Path(__file__).resolve().parents[3]
STUDY = TINY_STUDY


@dataclass(frozen=True)
class Lab:
    """A folder holding ``automl.db`` (study ``tiny``) and ``best/`` (its best trial with
    ``--quantize int8``); ``cli`` runs the CLI there in a new process, ``here`` through the
    same entry point in this process (:mod:`cli_kit`)."""

    root: Path
    best: Path
    best_spec: dict[str, Any]
    cli: Callable[..., subprocess.CompletedProcess[str]]
    here: Callable[..., subprocess.CompletedProcess[str]]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.root / 'automl.db'}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A real search (3 cnn2d trials of 2 epochs on digits) and its best trial exported (through
    the CLI's entry point in this process: ``lab.cli`` runs the CLI as a process)."""
    root = tiny_study(tmp_path_factory)

    def cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=kw.pop("cwd", root), **kw)

    def here(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_here(*args, cwd=kw.pop("cwd", root), **kw)

    def make() -> None:
        out = here("export", STUDY, "--out", "best", "--quantize", "int8", "--json")
        (root / "best.json").write_text(out.stdout)

    once(shared_dir(tmp_path_factory, "export_lab_bundle"), make)
    report = json.loads((root / "best.json").read_text())
    return Lab(root, root / "best", report["bundles"][0]["spec"], cli, here)


@pytest.fixture(scope="session")
def error_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with study ``pruned`` (every trial over a parameter limit, so no weights)
    and study ``broken`` (its one trial FAILed: fp16 needs CUDA). Both searches run through
    the CLI's entry point in this process: what is checked is what they leave in the
    database."""
    root = shared_dir(tmp_path_factory, "export_errors")

    def make() -> None:
        common = ("--data", "digits", "--epochs", "1", "--quiet",
                  "--set", "trainer.latency_repeats=3", "--set", "trainer.num_threads=1")
        # Without the cost-frugal start: the cheapest cnn2d it queues is under the limit.
        run_here("search", *common, "--study", "pruned", "--trials", "2",
                 "--set", "search.arch=cnn2d", "--set", "limits.max_params=1000",
                 "--set", "search.cheap_start='never'", cwd=root)
        run_here("search", *common, "--study", "broken", "--trials", "1",
                 "--set", "search.arch=mlp", "--set", "trainer.precision=fp16", cwd=root)

    once(root, make)
    return root
