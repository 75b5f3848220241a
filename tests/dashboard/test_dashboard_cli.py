"""``automl dashboard``: what it runs, what it prints, and what it refuses (without starting
a server: ``os.execve`` is replaced; the browser test starts the real one)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dashboard_db import REPO
from typer.testing import CliRunner

from automl.cli import dashboard as cli_dashboard
from automl.cli.app import app
from automl.errors import AutomlError
from automl.storage import open_storage


class Execd(Exception):
    """Raised by the fake execve, carrying what would have run."""


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append({"path": path, "argv": argv, "env": env})
        raise Execd

    monkeypatch.setattr(cli_dashboard.os, "execve", fake_execve)
    return calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_runs_streamlit_with_the_url_in_the_environment(
        execs: list[dict[str, Any]], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    open_storage(url).close()
    port = free_port()
    result = CliRunner().invoke(app, ["dashboard", "--storage", url, "--port", str(port)])
    assert isinstance(result.exception, Execd), result.output
    [call] = execs
    argv = call["argv"]
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == REPO / "dashboard" / "app.py"
    opts = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert opts["--server.address"] == "127.0.0.1" and opts["--server.port"] == str(port)
    assert opts["--server.headless"] == "true"
    assert opts["--browser.gatherUsageStats"] == "false"
    assert call["env"]["AUTOML_STORAGE"] == url and url not in " ".join(argv)
    assert f"http://127.0.0.1:{port}" in result.output


def test_password_stays_out_of_output_and_argv(execs: list[dict[str, Any]]) -> None:
    url = "postgresql+psycopg://bob:t0psecret@127.0.0.1:9/x"
    result = CliRunner().invoke(app, ["dashboard", "--storage", url, "--host", "0.0.0.0",
                                      "--port", str(free_port())])
    assert isinstance(result.exception, Execd), result.output
    assert "t0psecret" not in result.output and "bob:***@" in result.output
    assert "t0psecret" not in " ".join(execs[0]["argv"])
    assert "note:" in result.output and "warning: listening on 0.0.0.0" in result.output


def test_missing_database_is_a_note_bad_url_an_error(execs: list[dict[str, Any]],
                                                     tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'later.db'}"
    result = CliRunner().invoke(app, ["dashboard", "--storage", missing,
                                      "--port", str(free_port())])
    assert isinstance(result.exception, Execd) and "database file not found" in result.output
    result = CliRunner().invoke(app, ["dashboard", "--storage", "nonsense"])
    assert isinstance(result.exception, AutomlError) and not execs[1:]
    assert "not a valid SQLAlchemy URL" in str(result.exception)


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "automl", "dashboard", "--port", str(port),
             "--storage", f"sqlite:///{tmp_path / 'x.db'}"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another --port"]


def test_help_imports_no_heavy_package() -> None:
    code = ("import sys\nfrom automl.cli import app as cli\ntry:\n    cli.app(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('streamlit', 'torch', 'optuna') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "dashboard" in run.stdout and run.stdout.strip().endswith("[]")


def test_url_for_wildcard_and_ipv6() -> None:
    assert cli_dashboard.url_for("0.0.0.0", 8501) == "http://127.0.0.1:8501"
    assert cli_dashboard.url_for("::1", 9000) == "http://[::1]:9000"
    assert cli_dashboard.url_for("10.0.0.5", 80) == "http://10.0.0.5:80"
    with pytest.raises(AutomlError, match="choose another --port"), socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cli_dashboard.check_port_free("127.0.0.1", s.getsockname()[1])
