"""Helpers for driving the dashboard in Debian's headless Chromium (Playwright): start
``automl dashboard`` on a free port, open a browser that may not reach the internet, and time a
page until a chart is really drawn. Shared by the browser test and
``benchmarks/dashboard_scale.py --browser``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60
WIDTH = 1400  # what the user saw

# A chart counts as drawn when Plotly has laid it out and drawn axes of some kind (ticks,
# parallel-coordinate axes): its data is in, not only the frame. Charts are found by their
# Streamlit key (the element gets the class ``st-key-<key>``).
DRAWN_JS = """(keys) => keys.every(k => {
  const p = document.querySelector(`.st-key-${k} .js-plotly-plot`);
  return p && p._fullLayout && p._fullData && p._fullData.length &&
    p.querySelector('.xtick, .ytick, .axis .tick, .parcoords, .y-axis');
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dashboard_server(url: str, log: Path) -> Iterator[str]:
    """``automl dashboard --storage url`` in its own process group; yields its base address."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "automl", "dashboard", "--storage", url, "--port", str(port)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"automl dashboard exited with {proc.returncode}:\n"
                                   + log.read_text())
            if time.monotonic() > deadline:
                raise RuntimeError(f"dashboard not up after {START_TIMEOUT_S} s:\n"
                                   + log.read_text())
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            time.sleep(0.25)
        yield base
    finally:
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait_s)


class Offline:
    """Aborts every request that leaves 127.0.0.1 and remembers it (the page must not need
    the internet: a dashboard on an air-gapped cluster has none)."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.failed: list[str] = []

    def attach(self, context: Any) -> None:
        context.route("**/*", self._route)
        context.on("requestfailed", lambda req: self.failed.append(req.url))

    def _route(self, route: Any) -> None:
        url = route.request.url
        local = url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
        if local:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@contextlib.contextmanager
def browser_page(pw: Any, offline: Offline | None = None, height: int = 1100) -> Iterator[Any]:
    """A fresh page in a fresh context (nothing cached by the browser), 1400 px wide."""
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    try:
        context = browser.new_context(viewport={"width": WIDTH, "height": height})
        if offline is not None:
            offline.attach(context)
        yield context.new_page()
    finally:
        browser.close()


def wait_charts(page: Any, keys: list[str], timeout_ms: int = 60_000) -> None:
    """Until the charts with these Streamlit keys are drawn."""
    page.wait_for_function(DRAWN_JS, arg=keys, timeout=timeout_ms, polling=50)


def time_view(page: Any, address: str, keys: list[str], *, tab: str | None = None,
              text: str | None = None, timeout_ms: int = 60_000) -> float:
    """Seconds from ``goto(address)`` until the charts ``keys`` are drawn (and ``text``
    shows); with ``tab``, from the click on that tab (once the page is up) instead."""
    start = time.perf_counter()
    page.goto(address)
    if tab is not None:
        page.get_by_role("tab", name=tab).wait_for(timeout=timeout_ms)
        page.get_by_role("tab", name=tab).click()
        start = time.perf_counter()
    if text is not None:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    if keys:
        wait_charts(page, keys, timeout_ms)
    return time.perf_counter() - start
