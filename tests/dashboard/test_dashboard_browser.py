"""End to end in a real headless browser: ``automl dashboard`` as a subprocess on a free port,
Debian's Chromium driven by Playwright. The leaderboard and the Pareto chart must appear, and a
click on a trial must open its page. Screenshots go to the test's temporary folder; with
AUTOML_UPDATE_SCREENSHOT=1 the study page also goes to docs/dashboard_study.png (README)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_db import REPO, Db

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000
SCREENSHOT = REPO / "docs" / "dashboard_study.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing: apt-get install chromium chromium-driver"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"automl dashboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"dashboard not up after {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture
def dashboard_url(search_db: Db, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        # A session of its own, so that the whole group (the CLI execs into Streamlit, which
        # may start helpers) is stopped together.
        proc = subprocess.Popen(
            [sys.executable, "-m", "automl", "dashboard", "--storage", search_db.url,
             "--port", str(port)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(proc, base, log)
        assert base in log.read_text()  # the printed URL
        yield base
    finally:
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue


def test_study_page_in_chromium(dashboard_url: str, search_db: Db, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            # Tall enough for the README shot to hold the front, the history and the board.
            page = browser.new_page(viewport={"width": 1280, "height": 1240})
            page.goto(f"{dashboard_url}/study?study={search_db.study}")
            expect(page.get_by_role("heading", name=search_db.study)).to_be_visible(
                timeout=UI_TIMEOUT_MS)
            grid = page.locator('[data-testid="stDataFrame"]')
            rows = grid.locator('tbody [role="row"]')
            expect(rows).to_have_count(3, timeout=UI_TIMEOUT_MS)  # one per trial
            chart = page.locator('[data-testid="stPlotlyChart"]').first
            expect(chart.locator(".scatterlayer .point").first).to_be_visible(
                timeout=UI_TIMEOUT_MS)
            assert chart.locator(".scatterlayer .point").count() >= 3
            expect(page.get_by_text("Pareto front").first).to_be_visible()
            page.wait_for_timeout(1500)  # let the charts finish their transitions
            page.screenshot(path=str(tmp_path / "study.png"))
            if os.environ.get("AUTOML_UPDATE_SCREENSHOT") == "1":
                SCREENSHOT.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(SCREENSHOT))

            # Click the first leaderboard row (its selection box), then the link it offers.
            first = rows.first.locator("td").first.inner_text().strip()
            grid.scroll_into_view_if_needed()
            box = grid.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
            link = page.get_by_role("link", name=f"Open trial {first}")
            expect(link).to_be_visible(timeout=UI_TIMEOUT_MS)
            link.click()
            page.wait_for_url(f"**/trial?study={search_db.study}&trial={first}",
                              timeout=UI_TIMEOUT_MS)
            expect(page.get_by_role("heading", name=f"Trial {first}")).to_be_visible(
                timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text("Learning curves")).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text(f"automl export {search_db.study} --trial {first}")
                   ).to_be_visible(
                timeout=UI_TIMEOUT_MS)
            # Streamlit scrolls inside the page, so a full-page shot needs a tall viewport.
            page.set_viewport_size({"width": 1280, "height": 2600})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(tmp_path / "trial.png"))

            # A click on a point of the front opens that trial too.
            page.set_viewport_size({"width": 1280, "height": 1240})
            page.goto(f"{dashboard_url}/study?study={search_db.study}")
            front = page.locator('[data-testid="stPlotlyChart"]').first.locator(
                ".scatterlayer .trace").nth(1).locator(".point").first
            expect(front).to_be_visible(timeout=UI_TIMEOUT_MS)
            page.wait_for_timeout(1000)
            front.click(force=True)  # force: Plotly's drag layer lies over the markers
            page.wait_for_url(re.compile(r".*/trial\?study=.*&trial=\d+$"),
                              timeout=UI_TIMEOUT_MS)
            number = page.url.rsplit("=", 1)[1]
            expect(page.get_by_role("heading", name=f"Trial {number}")).to_be_visible(
                timeout=UI_TIMEOUT_MS)
        finally:
            browser.close()
    assert (tmp_path / "study.png").stat().st_size > 10_000
