"""The suite's runner of ``automl`` processes: a process forked from the pre-imported parent
(``cli_zygote.py``) must answer as a fresh interpreter does, in its own folder and environment,
and a timed-out one must be killed without leaving the parent out of step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cli_kit
import pytest
from cli_kit import run_cli


@pytest.mark.parametrize("args", [["--help"], ["export", "nope"], ["studies", "--storage",
                                                                   "sqlite:///missing.db"]])
def test_forked_and_fresh_processes_answer_alike(tmp_path: Path, args: list[str]) -> None:
    forked = run_cli(*args, cwd=tmp_path, check=False)
    fresh = run_cli(*args, cwd=tmp_path, check=False, fresh=True)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode, fresh.stdout, fresh.stderr)
    assert "Usage: python -m automl" in forked.stdout or forked.returncode == 2


def test_each_process_has_its_own_folder_and_environment(tmp_path: Path) -> None:
    empty, none = tmp_path / "empty", tmp_path / "none"
    empty.mkdir()
    none.mkdir()
    (empty / "x.db").touch()
    url = "sqlite:///x.db"  # relative: read from the process's own working folder
    assert "holds no automl studies" in run_cli("studies", "--storage", url, cwd=empty,
                                                check=False).stderr
    assert "database file not found" in run_cli("studies", "--storage", url, cwd=none,
                                                check=False).stderr
    by_env = run_cli("studies", cwd=empty, check=False, env={"AUTOML_STORAGE": url})
    assert "holds no automl studies" in by_env.stderr  # the request's environment, not ours
    assert "holds no automl studies" not in run_cli("studies", cwd=empty, check=False).stderr


def test_a_timed_out_process_is_killed_and_the_parent_stays_in_step(tmp_path: Path) -> None:
    run_cli("--help", cwd=tmp_path)
    parent = cli_kit._zygote
    assert parent is not None and parent.proc.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli("search", "--data", "digits", "--trials", "100", "--epochs", "100", "--quiet",
                "--storage", f"sqlite:///{tmp_path / 'a.db'}", cwd=tmp_path, timeout=2)
    after = run_cli("--help", cwd=tmp_path)  # the next command is answered by the same parent
    assert after.returncode == 0 and cli_kit._zygote is parent
