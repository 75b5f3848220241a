"""The one way the suite runs ``automl``: in a real process (:func:`run_cli`), as a user does,
where the process is the point (signals, kill -9, workers, launchers, start-up, one end-to-end
run); or in this process (:func:`run_here`), through the same console-script entry point, where
only the search's behaviour is checked: no interpreter start and no imports to pay again.

A :func:`run_cli` process is forked from a pre-imported parent (``cli_zygote.py``, one per test
worker): its own pid, exit code, streams, folder and environment, without the 3-4 CPU-seconds
of imports a fresh interpreter pays.
``fresh=True`` (or ``AUTOML_TEST_FRESH_CLI=1`` for the whole suite) starts a new interpreter
instead, where the start itself is under test or where an import reads the environment.

Both return a :class:`subprocess.CompletedProcess` (``returncode``, ``stdout``, ``stderr``), so
a test can move from one to the other by changing the runner. Tests import it by name
(``from cli_kit import run_cli``): ``tests/`` is on ``sys.path`` through its ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AUTOML = [sys.executable, "-m", "automl"]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    """The caller's environment without ``AUTOML_STORAGE`` (each test names its own database),
    with this checkout first on the path whatever the working directory."""
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_STORAGE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def _check(proc: subprocess.CompletedProcess[str], args: tuple[str, ...]) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"automl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


class _Zygote:
    """The pre-imported parent of :func:`run_cli`'s processes (see ``cli_zygote.py``)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "cli_zygote.py")], cwd=REPO, env=_env(None),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pending = b""

    def reply(self, timeout: float | None) -> dict[str, int] | None:
        """The next reply line, or None if none came within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.pending:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the CLI zygote (tests/cli_zygote.py) died")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def run(self, args: tuple[str, ...], cwd: Path, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess[str]:
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory(prefix="automl-cli-") as tmp:
            out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
            req = {"args": list(args), "cwd": str(cwd), "env": env, "out": str(out),
                   "err": str(err)}
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            started = self.reply(60)
            assert started is not None, "the CLI zygote did not fork"
            done = self.reply(timeout)
            if done is None:
                os.kill(started["pid"], signal.SIGKILL)
                self.reply(None)
                raise subprocess.TimeoutExpired(["automl", *args], timeout, out.read_text(),
                                                err.read_text())
            return subprocess.CompletedProcess(["automl", *args], done["code"],
                                               out.read_text(), err.read_text())


_zygote: _Zygote | None = None


def run_cli(*args: str, cwd: Path, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None,
            fresh: bool = False) -> subprocess.CompletedProcess[str]:
    """``automl ARGS`` in a process of its own in ``cwd``, as a user runs it: forked from the
    pre-imported parent unless ``fresh`` (a new interpreter: see the module doc)."""
    global _zygote
    if fresh or os.environ.get("AUTOML_TEST_FRESH_CLI") == "1":
        proc = subprocess.run([*AUTOML, *args], cwd=cwd, env=_env(env), capture_output=True,
                              text=True, timeout=timeout)
    else:
        if _zygote is None or _zygote.proc.poll() is not None:
            _zygote = _Zygote()
        try:
            proc = _zygote.run(args, cwd, _env(env), timeout)
        except subprocess.TimeoutExpired:  # the child was killed and reaped: still in step
            raise
        except BaseException:  # its replies may be out of step now: the next call starts anew
            _zygote.proc.kill()
            _zygote = None
            raise
    if check:
        _check(proc, args)
    return proc


def run_here(*args: str, cwd: Path, check: bool = True, timeout: float | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``automl ARGS`` through the console-script entry point in this process, in ``cwd``
    (``timeout`` is accepted for symmetry; pytest-timeout bounds the test). An exception that
    escapes the CLI is returned as a failure with its traceback on stderr, exit code 99."""
    from automl.cli import app

    # The entry point reads the command's start (a --timeout counts from it) at import time,
    # once per process: here every call is a new command.
    app.COMMAND_STARTED = time.monotonic()
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd, saved_env = sys.argv, Path.cwd(), dict(os.environ)
    os.environ.pop("AUTOML_STORAGE", None)
    os.environ.update(env or {})
    sys.argv = ["automl", *args]
    code: Any = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            app.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - reported as the failure it is
        code = 99
        err.write("Traceback (in process)\n" + "".join(traceback.format_exception(exc)))
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    proc = subprocess.CompletedProcess(["automl", *args], code, out.getvalue(), err.getvalue())
    if check:
        _check(proc, args)
    return proc


def shared_dir(factory: Any, name: str) -> Path:
    """A folder every pytest-xdist worker of this session sees (their basetemps share a
    parent), for what is built once per session."""
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    root.mkdir(exist_ok=True)
    return root


def once(root: Path, make: Any) -> None:
    """``make()`` once per session whatever the number of xdist workers (a file lock, and a
    ``done`` file it leaves)."""
    from filelock import FileLock

    with FileLock(str(root / "lock")):
        if not (root / "done").exists():
            make()
            (root / "done").write_text("ok")


# The suite's one tiny study (its folder and name), read by the export and dashboard tests
# alike: built once per session, whoever asks first.
TINY_FOLDER, TINY_STUDY = "tiny_study", "tiny"
# No refit: the export tests read `best` as the searched trial's own weights (the refit's
# export has its tests in tests/automl/test_refit.py).
TINY_SEARCH = ("search", "--data", "digits", "--study", TINY_STUDY, "--trials", "3",
               "--epochs", "2", "--quiet", "--set", "search.arch=cnn2d",
               "--set", "trainer.num_threads=1", "--set", "trainer.latency_repeats=3",
               "--set", "search.refit=false")


def tiny_study(factory: Any) -> Path:
    """The suite's tiny study: a real search of 3 cnn2d trials of 2 epochs on digits (study
    ``tiny``), run once per session, whatever the number of xdist workers and whichever package
    asks first, through the CLI's entry point in this process (what is shared is the database
    it leaves: the CLI as a process has tests of its own). Returns the folder: its
    ``automl.db`` holds the study, and the trials' weights lie under it (named by absolute
    path). It is read-only for its users: a test that writes to a database makes its own."""
    root = shared_dir(factory, TINY_FOLDER)
    once(root, lambda: run_here(*TINY_SEARCH, cwd=root))
    return root
