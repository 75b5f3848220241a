"""Storage URLs never show their secrets, whatever their form: in ``mask_url`` and in the one-line
errors of ``automl studies``, ``leaderboard`` and ``search`` (real CLI, real drivers, a port
nothing listens on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_kit import run_here

from automl.storage.urls import mask_text, mask_url, secrets_of

MARK = "Sup3r"  # every secret below holds it; it must never be printed


PORT = 1  # nothing listens there: refused at once (and test ids stay the same for xdist)
H = f"127.0.0.1:{PORT}"
PG = "postgresql+psycopg"
URLS = [
    f"{PG}://u:{MARK}S3cret@{H}/db",
    f"postgresql://u:{MARK}S3cret@{H}/db",
    f"{PG}://u:p@ss-{MARK}@{H}/db",  # '@' in the password
    f"{PG}://u:a@b@c-{MARK}@{H}/db",  # two of them
    f"{PG}://u:pa:ss-{MARK}@{H}/db",  # ':'
    f"{PG}://u:pa/ss-{MARK}@{H}/db",  # '/'
    f"{PG}://u:pa?ss-{MARK}@{H}/db",  # '?'
    f"{PG}://u:pa#ss-{MARK}@{H}/db",  # '#'
    f"{PG}://u:p%40ss%2F{MARK}@{H}/db",  # percent-encoded
    f"{PG}://u:50%off-{MARK}@{H}/db",  # a bare '%'
    f"{PG}://u:{MARK} with spaces@{H}/db",
    f"{PG}://u:pa'ss\"{MARK}@{H}/db",  # quotes
    f"{PG}://u:pässwörd-{MARK}@{H}/db",  # not ASCII
    f"{PG}://:{MARK}S3cret@{H}/db",  # no user name
    f"{PG}://u:{MARK}S3cret@[::1]:{PORT}/db",  # IPv6 host
    f"{PG}://u@{H}/db?password={MARK}S3cret",  # password as a query parameter
    f"{PG}://u@{H}/db?sslmode=disable&password={MARK}S3cret&application_name=x",
    f"{PG}://u@{H}/db?sslpassword={MARK}S3cret",
    f"{PG}://u@{H}/db?passfile=/keys/{MARK}.pgpass",
    f"{PG}://u:{MARK}One@{H}/db?password={MARK}Two",  # both
    f"{PG}://u:{MARK}S3cret@/db?host=127.0.0.1&port={PORT}",  # host in the query
    f"{PG}://u:{MARK}S3cret@{H}/db?connect_timeout=1&options=-c%20x%3Dy",
    f"mysql+pymysql://u:{MARK}S3cret@{H}/db",  # driver not installed
    f"nosuchdb://u:{MARK}S3cret@{H}/db",  # unknown dialect
    f"host=127.0.0.1 port={PORT} password={MARK}S3cret",  # a libpq string, not a URL
    f"u:{MARK}S3cret@127.0.0.1/db",  # no scheme
    f"://u:{MARK}S3cret@{H}/db",  # an empty one
    f"pg sql://u:{MARK}S3cret@{H}/db",  # a mistyped one
    f"{PG}://u:p@ss:{MARK}@127.0.0.1:notaport/db",  # "@" and ":", and a port that is no number
]


@pytest.mark.parametrize("url", URLS)
def test_mask_url_hides_every_secret(url: str) -> None:
    masked = mask_url(url)
    assert MARK not in masked and "***" in masked
    message = f"could not connect to {url}: refused"
    assert secrets_of(url) and MARK not in mask_text(message, secrets_of(url))
    if not any(c in url for c in " '\""):  # free text without the URL: best effort, by shape
        assert MARK not in mask_text(message)


def test_mask_url_keeps_what_is_not_secret() -> None:
    assert mask_url("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_url("postgresql://bob:p@ss@db/x?sslmode=require&password=y") == (
        "postgresql://bob:***@db/x?sslmode=require&password=***")
    assert mask_url("sqlite:///home/me@corp/a.db") == "sqlite:///home/me@corp/a.db"
    assert mask_text("dsn 'host=h password=abc user=u'") == "dsn 'host=h password=*** user=u'"
    assert mask_text("{'password': 'abc', 'port': 1}") == "{'password': '***', 'port': 1}"


_ENV = {"AUTOML_DB_CONNECT_TIMEOUT": "2"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """In a real process: what a driver or a logger writes to the process's own stderr."""
    return subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", **_ENV})


def _here(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Through the same entry point in this process (each URL kind; the real process above
    covers what only a process's own stderr would show)."""
    return run_here(*args, cwd=cwd, check=False, env=_ENV)


def _assert_masked(proc: subprocess.CompletedProcess[str]) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert MARK not in out, out
    assert "Traceback" not in out and proc.stderr.count("\n") == 1, out


@pytest.mark.parametrize("url", URLS)
def test_read_commands_never_print_the_secret(url: str, tmp_path: Path) -> None:
    _assert_masked(_here("studies", "--storage", url, cwd=tmp_path))
    _assert_masked(_here("leaderboard", "s", "--storage", url, cwd=tmp_path))


@pytest.mark.parametrize("url", URLS)
def test_search_never_prints_the_secret(url: str, tmp_path: Path) -> None:
    _assert_masked(_here("search", "--data", "digits", "--trials", "1", "--quiet",
                         "--storage", url, cwd=tmp_path))


@pytest.mark.parametrize("command", [("studies",), ("search", "--data", "digits", "--quiet")])
def test_a_real_process_never_prints_the_secret(command: tuple[str, ...], tmp_path: Path
                                                ) -> None:
    for url in (URLS[0], next(u for u in URLS if "@" in u.split("@", 1)[1])):
        _assert_masked(_cli(*command, "--storage", url, cwd=tmp_path))


def test_an_unreachable_server_fails_the_search_before_the_data_is_read(tmp_path: Path) -> None:
    """A wrong server answers in a second, not after the data and spaces checks: the error is
    the storage's even though the data file is missing too, and no file is written."""
    proc = _cli("search", "--data", str(tmp_path / "missing.npz"), "--trials", "1", "--quiet",
                "--storage", URLS[0], cwd=tmp_path)
    _assert_masked(proc)
    assert "connection failed" in proc.stderr and "missing.npz" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
