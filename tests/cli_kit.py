"""The one way the suite runs ``automl``: in a real process (:func:`run_cli`), as a user does,
where the process is the point (signals, kill -9, workers, launchers, start-up, one end-to-end
run); or in this process (:func:`run_here`), through the same console-script entry point, where
only the search's behaviour is checked: no interpreter start and no imports to pay again.

Both return a :class:`subprocess.CompletedProcess` (``returncode``, ``stdout``, ``stderr``), so
a test can move from one to the other by changing the runner. Tests import it by name
(``from cli_kit import run_cli``): ``tests/`` is on ``sys.path`` through its ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
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


def run_cli(*args: str, cwd: Path, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``automl ARGS`` in a new process in ``cwd``, as a user runs it."""
    proc = subprocess.run([*AUTOML, *args], cwd=cwd, env=_env(env), capture_output=True,
                          text=True, timeout=timeout)
    if check:
        _check(proc, args)
    return proc


def run_here(*args: str, cwd: Path, check: bool = True, timeout: float | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``automl ARGS`` through the console-script entry point in this process, in ``cwd``
    (``timeout`` is accepted for symmetry; pytest-timeout bounds the test). An exception that
    escapes the CLI is returned as a failure with its traceback on stderr, exit code 99."""
    import time

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
