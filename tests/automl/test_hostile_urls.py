"""A storage URL that cannot be used is one line on stderr and exit 2, with the password masked,
whichever command opens the storage (issue 24): no traceback, the password never printed in any
spelling, nothing written. Every case goes through the CLI entry point in this process, as in
test_hostile_input.py (which is full: these cases live here, their table in hostile_kit.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile_kit import BAD_URLS, SECRET, Run, run_main, url_error

# The arguments of each command that opens the storage ("{d}": the test's folder).
COMMANDS = {
    "search": ["search", "--quiet"],
    "studies": ["studies"],
    "leaderboard": ["leaderboard", "s"],
    "show": ["show", "s", "1"],
    "export": ["export", "s", "--out", "{d}/bundle"],
    "dashboard": ["dashboard"],
    "db-current": ["db", "current"],
    "db-upgrade": ["db", "upgrade"],
}
# A password holding '@' and ':' unencoded: split at the last '@', it connects to port 1
# (nothing listens there) instead of failing to parse "word@127.0.0.1:1" as a port.
AT_COLON = f"postgresql+psycopg://u:p@ss:{SECRET}@127.0.0.1:1/db"

# Where a command's own checks come first (the study config refuses a NUL in any string).
OTHER_CHECK = {("nul-in-password", "search"): "error: study.storage: contains a NUL character"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder of the test's own (a relative SQLite path would land in it), fast
    connection failures, and no way for the dashboard to replace the test process."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOML_DB_CONNECT_TIMEOUT", "2")
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)

    def no_exec(*args: object) -> None:
        raise AssertionError(f"the dashboard started despite a bad URL: {args[:2]}")

    monkeypatch.setattr(os, "execve", no_exec)
    return tmp_path


def _run(command: str, here: Path, *storage: str) -> Run:
    args = [a.replace("{d}", str(here)) for a in COMMANDS[command]]
    return run_main([*args, *storage])


def _assert_one_masked_line(run: Run, here: Path) -> str:
    out = run.out + run.err
    assert run.code == 2, f"exit {run.code}: {out[-800:]}"
    assert "Traceback" not in out, out
    assert SECRET not in out and "p@ss" not in out, out
    lines = run.err.splitlines()
    assert len(lines) == 1 and run.err.endswith("\n"), run.err
    assert list(here.iterdir()) == [], "the command wrote something before refusing"
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case, url, masked, why", BAD_URLS, ids=[c[0] for c in BAD_URLS])
def test_a_bad_url_is_one_masked_line(here: Path, command: str, case: str, url: str,
                                      masked: str, why: str) -> None:
    line = _assert_one_masked_line(_run(command, here, "--storage", url), here)
    assert line == OTHER_CHECK.get((case, command), url_error(masked, why))


@pytest.mark.parametrize("command", ["search", "studies", "dashboard"])
def test_a_bad_url_from_the_environment_is_one_masked_line(
        here: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    _, url, masked, why = BAD_URLS[1]  # the password holds '@' and ':'
    monkeypatch.setenv("AUTOML_STORAGE", url)
    assert _assert_one_masked_line(_run(command, here), here) == url_error(masked, why)


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"dashboard"}))
def test_a_password_with_at_and_colon_stays_whole(here: Path, command: str) -> None:
    """The dashboard is left out: a server it cannot reach is only a note there."""
    line = _assert_one_masked_line(_run(command, here, "--storage", AT_COLON), here)
    prefix = "error: storage postgresql+psycopg://u:***@127.0.0.1:1/db: connection failed: "
    assert line.startswith(prefix) and "port 1 failed" in line, line


def test_the_cases_cover_every_kind() -> None:
    kinds = {c[0].split("-")[0] for c in BAD_URLS}
    assert {"port", "ipv6", "host", "newline", "nul", "scheme", "dialect", "driver",
            "sqlite", "libpq", "blank"} <= kinds
    assert all(SECRET not in masked for _, _, masked, _ in BAD_URLS)
