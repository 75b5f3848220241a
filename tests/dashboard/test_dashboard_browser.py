"""End to end in a real headless browser: ``automl dashboard`` as a subprocess on a free port,
Debian's Chromium driven by Playwright, 1400 px wide, with every request that would leave the
machine blocked (and counted: there must be none). The leaderboard and the Pareto chart must
appear, a click on a trial must open its page, every study-wide view must draw, and an unknown
study must say so. Screenshots go to the test's temporary folder; with
AUTOML_UPDATE_SCREENSHOT=1 the study and trial pages also go to docs/ (README)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from chromium import CHROMIUM, WIDTH, Offline, browser_page, dashboard_server, wait_charts
from dashboard_db import REPO, Db

if TYPE_CHECKING:
    from playwright.sync_api import Page

UI_TIMEOUT_MS = 30_000
SCREENSHOT = REPO / "docs" / "dashboard_study.png"
SCREENSHOT_TRIAL = REPO / "docs" / "dashboard_trial.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing: apt-get install chromium chromium-driver"),
]


@pytest.fixture(scope="module")
def dashboard_url(search_db: Db, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``automl dashboard`` for the module's browser tests, on a database that holds the
    real search's study (a copy) and the mixed studies (built into it): one server start."""
    import sqlite3

    from dashboard_db import build_mixed

    assert search_db.path is not None
    root = tmp_path_factory.mktemp("browser")
    both = root / "both.db"
    src, dst = sqlite3.connect(search_db.path), sqlite3.connect(both)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    build_mixed(f"sqlite:///{both}")
    with dashboard_server(f"sqlite:///{both}", root / "dashboard.log") as base:
        yield base


def assert_offline(offline: Offline) -> None:
    assert not offline.blocked, f"requests left the machine: {offline.blocked}"
    assert not offline.failed, f"requests failed: {offline.failed}"


def _check_study_page(page: Page, dashboard_url: str, study: str, tmp_path: Path) -> None:
    """The study page shows its heading, one leaderboard row per trial and the Pareto chart;
    it is screenshotted (and, with AUTOML_UPDATE_SCREENSHOT=1, saved for the README)."""
    from playwright.sync_api import expect

    page.goto(f"{dashboard_url}/study?study={study}")
    expect(page.get_by_role("heading", name=study)).to_be_visible(timeout=UI_TIMEOUT_MS)
    rows = page.locator('[data-testid="stDataFrame"]').locator('tbody [role="row"]')
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


def _open_first_row(page: Page, study: str, tmp_path: Path) -> None:
    """Click the first leaderboard row (its selection box), then the link it offers: the
    trial's page opens with its curves; it is screenshotted too."""
    from playwright.sync_api import expect

    grid = page.locator('[data-testid="stDataFrame"]')
    first = grid.locator('tbody [role="row"]').first.locator("td").first.inner_text().strip()
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    link = page.get_by_role("link", name=f"Open trial {first}")
    expect(link).to_be_visible(timeout=UI_TIMEOUT_MS)
    link.click()
    page.wait_for_url(f"**/trial?study={study}&trial={first}", timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("heading", name=f"Trial {first}")).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Learning curves")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(f"automl export {study} --trial {first}")).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    wait_charts(page, ["curves"], UI_TIMEOUT_MS)
    # Streamlit scrolls inside the page, so a full-page shot needs a tall viewport.
    page.set_viewport_size({"width": WIDTH, "height": 2300})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "trial.png"))
    if os.environ.get("AUTOML_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(SCREENSHOT_TRIAL))


def _click_front(page: Page, dashboard_url: str, study: str) -> None:
    """A click on a point of the Pareto front opens that trial's page."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": WIDTH, "height": 1240})
    page.goto(f"{dashboard_url}/study?study={study}")
    # The front is the last trace (the first, the other trials, is not drawn when every
    # completed trial is on the front).
    front = page.locator('[data-testid="stPlotlyChart"]').first.locator(
        ".scatterlayer .trace").last.locator(".point").first
    expect(front).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    front.click(force=True)  # force: Plotly's drag layer lies over the markers
    page.wait_for_url(re.compile(r".*/trial\?study=.*&trial=\d+$"), timeout=UI_TIMEOUT_MS)
    number = page.url.rsplit("=", 1)[1]
    expect(page.get_by_role("heading", name=f"Trial {number}")).to_be_visible(
        timeout=UI_TIMEOUT_MS)


def test_study_page_in_chromium(dashboard_url: str, search_db: Db, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    offline = Offline()
    # Tall enough for the README shot to hold the front, the history and the board.
    with sync_playwright() as pw, browser_page(pw, offline, height=1240) as page:
        _check_study_page(page, dashboard_url, search_db.study, tmp_path)
        _open_first_row(page, search_db.study, tmp_path)
        _click_front(page, dashboard_url, search_db.study)
    assert (tmp_path / "study.png").stat().st_size > 10_000
    assert_offline(offline)


VIEWS = [("History", "history"), ("Importance", None), ("Parallel", "parallel"),
         ("Slice", "slice"), ("Contour", "contour"), ("EDF", "edf"),
         ("Curves", "study_curves"), ("Timeline", "timeline"), ("Hypervolume", "hypervolume"),
         ("Rungs", "rungs")]


def test_every_view_draws_in_chromium(dashboard_url: str, tmp_path: Path) -> None:
    """Each tab of the study page draws its chart in the browser (Importance included: its
    three completed trials are ranked), with no request leaving the machine."""
    from playwright.sync_api import expect, sync_playwright

    offline = Offline()
    with sync_playwright() as pw, browser_page(pw, offline) as page:
        page.goto(f"{dashboard_url}/study?study=mixed")
        wait_charts(page, ["pareto", "history"], UI_TIMEOUT_MS)
        for tab, key in VIEWS:
            page.get_by_role("tab", name=tab).click()
            if key is None:
                # Three completed trials are enough for PED-ANOVA: a ranking, not an excuse.
                expect(page.get_by_text("Method: PED-ANOVA, by Optuna, on 3 completed trials")
                       ).to_be_visible(timeout=UI_TIMEOUT_MS)
                wait_charts(page, ["importance"], UI_TIMEOUT_MS)
            else:
                wait_charts(page, [key], UI_TIMEOUT_MS)
            page.screenshot(path=str(tmp_path / f"{tab}.png"))
        # An unknown study: an error naming it and a way back, never another study's data.
        page.goto(f"{dashboard_url}/study?study=nope")
        expect(page.get_by_text("There is no study named “nope”")).to_be_visible(
            timeout=UI_TIMEOUT_MS)
        expect(page.get_by_role("link", name="All studies")).to_be_visible()
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        assert "study=nope" in page.url
    assert_offline(offline)
