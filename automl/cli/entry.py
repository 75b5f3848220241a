"""The ``automl`` console script and ``python -m automl``.

Ctrl-C or SIGTERM while the CLI is still importing (typer, rich: a few hundred milliseconds,
before anything is written) exits quietly with 130 / 143 instead of a traceback. The CLI then
installs its own handlers: Ctrl-C becomes ``KeyboardInterrupt`` again, which a search turns into
a re-queued candidate.

When a command has finished, the process leaves without the interpreter's teardown of the
modules it loaded: the exit handlers run (logging, the database pools, temporary folders,
multiprocessing's children), the standard streams are flushed, and then ``os._exit``. Tearing
down torch (torch._dynamo above all) took 1.1-1.3 s of every command's wall time, which a
``--timeout`` counts.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from typing import Any


def _quit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGINT, _quit)
    signal.signal(signal.SIGTERM, _quit)
    from automl.cli.app import main as cli_main

    try:
        cli_main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    _leave(code)


def _leave(code: Any) -> None:
    """``sys.exit(code)``'s outcome without the modules' teardown (see the module docstring)."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # as SystemExit("message") prints it
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code or 0)
