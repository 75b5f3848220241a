"""The options of ``automl serve``, their ranges, and the checks run before anything binds.

Light on purpose (no FastAPI, no Uvicorn): the command line declares its parsers from here, so
``automl serve --max-batch -1`` is refused in one line before the bundle is even opened, and
:func:`automl.serve.run.serve` and :func:`automl.serve.app.create_app` check the same ranges
for callers from Python.

======================  =================================================================
option                  allowed
======================  =================================================================
``--host``              an address (or name) of this machine that a socket can bind
``--port``              1 to 65535, and free on that address
``--max-batch``         1 to 65536 samples per request (sets the body limit with the shape)
``--workers``           1 to 64 Uvicorn worker processes
``--batch-wait-ms``     0 to 10000 ms (off when not given)
======================  =================================================================
"""

from __future__ import annotations

import errno
import socket

from automl.errors import ConfigError
from automl.numbers import Whole, decimal_number

PORT_RANGE = (1, 65535)
MAX_BATCH_RANGE = (1, 65536)
WORKERS_RANGE = (1, 64)
BATCH_WAIT_MS_RANGE = (0.0, 10_000.0)

PORT = Whole("--port", *PORT_RANGE)
MAX_BATCH = Whole("--max-batch", *MAX_BATCH_RANGE)
WORKERS = Whole("--workers", *WORKERS_RANGE)


def batch_wait_ms(value: object) -> float:
    """A typer ``parser=`` for ``--batch-wait-ms``."""
    return decimal_number(value, "--batch-wait-ms", *BATCH_WAIT_MS_RANGE)


def check_app_options(max_batch: int, wait_ms: float | None) -> None:
    """What one app needs: a batch limit and, with micro-batching, a wait in range."""
    MAX_BATCH(max_batch)
    if wait_ms is not None:
        batch_wait_ms(wait_ms)


def check_options(host: str, port: int, max_batch: int, workers: int,
                  wait_ms: float | None) -> None:
    """Every server option in range (one-line :class:`ConfigError` naming it), then the
    address free to listen on: all before the bundle is loaded or a port is bound."""
    check_host(host)
    PORT(port)
    check_app_options(max_batch, wait_ms)
    WORKERS(workers)
    check_listen(host, port)


def check_host(host: str) -> None:
    if not host or not host.isprintable() or any(c.isspace() for c in host):
        raise ConfigError(f"--host: expected an IP address or host name of this machine, "
                          f"got {host!r}")


def check_listen(host: str, port: int) -> None:
    """Fail with one line now rather than with the server's log once it started: a name that
    does not resolve or an address not on this machine names ``--host``; a port in use (or
    one below 1024 without the right) names ``--port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the server will: connections of a previous run lingering in TIME_WAIT are no
        # reason to refuse, only a live listener is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            option = "--port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "--host"
            raise ConfigError(f"cannot listen on {host}:{port} ({why}); choose another "
                              f"{option}") from None
