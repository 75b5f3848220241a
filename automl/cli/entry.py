"""The ``automl`` console script and ``python -m automl``.

Ctrl-C or SIGTERM while the CLI is still importing (typer, rich: a few hundred milliseconds,
before anything is written) exits quietly with 130 / 143 instead of a traceback. The CLI then
installs its own handlers: Ctrl-C becomes ``KeyboardInterrupt`` again, which a search turns into
a re-queued candidate.
"""

from __future__ import annotations

import signal
from typing import Any


def _quit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGINT, _quit)
    signal.signal(signal.SIGTERM, _quit)
    from automl.cli.app import main as cli_main

    cli_main()
