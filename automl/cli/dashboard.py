"""``automl dashboard``: registered on the main app by :func:`register` (issue 4).

The command runs ``streamlit run dashboard/app.py`` in place of this process (``os.execve``):
Ctrl+C and ``kill`` then reach Streamlit directly and no orphan server is left behind. The
storage URL travels in $AUTOML_STORAGE rather than on the command line, where ``ps`` would
show its password to every user of the machine.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from automl.errors import AutomlError
from automl.serve import options as serve_opts

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``python -m streamlit run`` argv (no storage URL: that goes in the environment)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # The app's files do not change under a user; watching them only costs inotify slots.
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--client.showErrorDetails", "none",
    ]


def url_for(host: str, port: int) -> str:
    """The address to open: a wildcard bind is reached through localhost on this machine."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def check_port_free(host: str, port: int) -> None:
    """Fail with one line now rather than with Streamlit's log after it started (the check
    ``automl serve`` makes too)."""
    serve_opts.check_listen(host, port)


def check_storage(url: str) -> str | None:
    """A bad URL is an error; a missing or empty database is only a note, since the
    dashboard may be started before the search that creates it (it notices the file)."""
    from automl.errors import StorageError
    from automl.storage import open_storage

    try:
        open_storage(url, create=False).close()
    except StorageError as exc:
        if "not a valid SQLAlchemy URL" in str(exc):
            raise
        return str(exc)
    return None


def register(app: typer.Typer) -> None:
    """Add the dashboard command to ``app`` (keeps heavy imports inside the command)."""

    @app.command()
    def dashboard(
        storage: Annotated[str | None, typer.Option(
            "--storage",
            help="SQLAlchemy URL [default: $AUTOML_STORAGE or sqlite:///automl.db]")] = None,
        host: Annotated[str, typer.Option(
            help="Address to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(
            help="Port to listen on (1..65535).", parser=serve_opts.PORT)] = 8501,
    ) -> None:
        """Open the results dashboard (Streamlit) over a study database. Read only."""
        from automl.storage import mask_url, resolve_url

        if importlib.util.find_spec("streamlit") is None:
            raise AutomlError(
                "the dashboard needs streamlit, plotly and pandas: "
                "pip install 'automl-nas[dashboard]'"
            )
        url = resolve_url(storage)
        note = check_storage(url)
        check_port_free(host, port)
        typer.echo(f"dashboard for {mask_url(url)}: {url_for(host, port)}  (Ctrl+C to stop)")
        if note:
            typer.echo(f"note: {note}; the dashboard shows the data once a search writes it")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: listening on {host}: anyone who can reach this machine can "
                       "read the results; prefer an SSH tunnel (see README)")
        sys.stdout.flush()
        env = {**os.environ, "AUTOML_STORAGE": url}
        cmd = streamlit_command(host, port)
        os.execve(cmd[0], cmd, env)
