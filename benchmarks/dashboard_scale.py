"""How fast does the dashboard's study page render for a 10,000-trial study?

Builds a synthetic study (Optuna trials through ``study.add_trials``, the project's rows and
curves by bulk insert) in a temporary SQLite file, then renders the study page through
Streamlit's ``AppTest`` several times and prints the timings. The first render fills the
caches (cold); the later ones are what a user clicking around sees (warm). What this mode
times is a **server-side render**: ``AppTest`` runs the page script in this process (reads,
transforms, figure building) and collects what it would send; no browser, no network, no
JavaScript drawing. It is the server's share of a page load, not a page load.

    .venv/bin/python benchmarks/dashboard_scale.py [--trials 10000] [--repeat 3] [--keep DB]
        [--json PATH]
    .venv/bin/python benchmarks/dashboard_scale.py --browser [--keep DB] [--json PATH]

``--browser`` instead times what a user waits for in Debian's headless Chromium (1400 px wide,
a fresh browser context each time): from opening the address until the page's charts are
drawn, on a server that has already served every page once (warm). Goals (issue 13): the study
page's Pareto plot in at most 2 s, every other view in at most 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: `dashboard` must be importable
from benchmarks.scale_study import STUDY, build_study  # noqa: E402

APP = REPO / "dashboard" / "app.py"


def time_page(url: str, page: str, query: dict[str, str], repeat: int,
              tab: str | None = None) -> tuple[list[tuple[float, float]], str]:
    """(wall, CPU) seconds per render of the page script ``page`` (``views/study.py``...)
    with the given query params, and a one-line account of what it drew (to show it really
    rendered). CPU time (of this process: the page runs in a thread of it) barely moves when
    other jobs share the machine; wall time does."""
    from streamlit.testing.v1 import AppTest

    from dashboard import loaders

    os.environ["AUTOML_STORAGE"] = url
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()  # the Studies page; switch_page needs a first run to know the pages
    at.query_params.update(query)
    at.switch_page(page)
    loaders.clear()  # the first timed run is cold: nothing cached, storage opened anew
    if tab:
        at.session_state["study_tab"] = tab
    times = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        at.run()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
        if at.exception or at.error:
            problem = (at.exception or at.error)[0].value
            raise SystemExit(f"{page}: the page failed: {problem}")
    drew = (f"title {at.title[0].value!r}, {len(at.get('plotly_chart'))} charts, "
            f"{len(at.dataframe)} tables")
    return times, drew


def storage_breakdown(url: str) -> list[tuple[str, float, float]]:
    """Where a cold load's time goes: each storage read the pages make, and the transforms."""
    from automl.storage import open_storage
    from dashboard import frames

    steps: list[tuple[str, float, float]] = []

    def timed(label: str, fn: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        steps.append((label, time.perf_counter() - start, time.process_time() - cpu))
        return out

    store = timed("open_storage + Optuna RDBStorage",
                  lambda: (s := open_storage(url, create=False), s.study_id(STUDY))[0])
    records = timed("Storage.trials(study)", lambda: store.trials(STUDY))
    timed("  Optuna's own API, for comparison (get_all_trials)",
          lambda: store.frozen_trials(STUDY))
    timed("leaderboard_frame + params_frame (dashboard)",
          lambda: (frames.leaderboard_frame(records), frames.params_frame(records)))
    timed("Storage.trials(study, with_epochs=True) (trial page)",
          lambda: store.trials(STUDY, with_epochs=True))
    timed("Storage.list_studies() (studies page)", store.list_studies)
    store.close()
    return steps


BROWSER_VIEWS: tuple[tuple[str, str, list[str], str | None], ...] = (
    # label, address, charts that must be drawn, tab to click first
    ("study page (Pareto plot)", f"/study?study={STUDY}", ["pareto"], None),
    ("study page, importance tab", f"/study?study={STUDY}", ["importance"], "Importance"),
    ("study page, parallel coordinates tab", f"/study?study={STUDY}", ["parallel"],
     "Parallel"),
    ("study page, slice tab", f"/study?study={STUDY}", ["slice"], "Slice"),
    ("study page, contour tab", f"/study?study={STUDY}", ["contour"], "Contour"),
    ("study page, EDF tab", f"/study?study={STUDY}", ["edf"], "EDF"),
    ("study page, curves tab", f"/study?study={STUDY}", ["study_curves"], "Curves"),
    ("study page, timeline tab", f"/study?study={STUDY}", ["timeline"], "Timeline"),
    ("study page, hypervolume tab", f"/study?study={STUDY}", ["hypervolume"], "Hypervolume"),
    ("study page, rungs tab", f"/study?study={STUDY}", ["rungs"], "Rungs"),
    ("trial page", f"/trial?study={STUDY}&trial=1", ["curves"], None),
    ("compare page", f"/compare?study={STUDY}&trials=1,2,3", ["compare_curves"], None),
)


def browser_timings(url: str, repeat: int, log: Path,
                    views: tuple[tuple[str, str, list[str], str | None], ...] = BROWSER_VIEWS,
                    ) -> dict[str, tuple[list[float], list[float]]]:
    """Seconds per view in Chromium (see the module docstring), ``repeat`` times each, after
    one untimed visit that warms the server: in a fresh browser each time (nothing cached:
    a first visit) and in one browser that has seen the page (scripts cached: clicking
    around)."""
    sys.path.insert(0, str(REPO / "tests" / "dashboard"))
    from chromium import browser_page, dashboard_server, time_view
    from playwright.sync_api import sync_playwright

    out: dict[str, tuple[list[float], list[float]]] = {}
    with dashboard_server(url, log) as base, sync_playwright() as pw:
        for label, address, keys, tab in views:
            fresh: list[float] = []
            cached: list[float] = []
            with browser_page(pw) as page:  # warms the server (caches, imports)
                time_view(page, base + address, keys, tab=tab, timeout_ms=300_000)
                for _ in range(repeat):
                    cached.append(time_view(page, base + address, keys, tab=tab))
            for _ in range(repeat):
                with browser_page(pw) as page:
                    fresh.append(time_view(page, base + address, keys, tab=tab))
            out[label] = (fresh, cached)
            print(f"{label}: fresh browser median {statistics.median(fresh):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in fresh)}); cached browser median "
                  f"{statistics.median(cached):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in cached)})", flush=True)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (or reuse) this SQLite file")
    parser.add_argument("--browser", action="store_true",
                        help="time the views in headless Chromium instead of AppTest")
    parser.add_argument("--only", help="with --browser: only views whose label has this text")
    parser.add_argument("--json", type=Path, help="also write the timings here")
    return parser.parse_args(argv)


def browser_mode(args: argparse.Namespace, url: str, tmp: Path,
                 result: dict[str, Any]) -> None:
    """Time the views in Chromium, after a 6-trial study's page as the anchor."""
    views = tuple(v for v in BROWSER_VIEWS if not args.only or args.only in v[0])
    print(f"load average {os.getloadavg()[0]:.1f}; anchor: a 6-trial study")
    sys.path.insert(0, str(REPO / "tests" / "dashboard"))
    from dashboard_db import build_mixed  # a tiny study: what no data costs

    small = build_mixed(f"sqlite:///{tmp / 'mixed.db'}")
    anchor = browser_timings(small.url, args.repeat, tmp / "small.log",
                             (("6-trial study page (Pareto plot)", "/study?study=mixed",
                               ["pareto"], None),))
    timed = browser_timings(url, args.repeat, tmp / "dashboard.log", views)
    result["measures"] = BROWSER_MEASURES
    result["pages"] = {label: {"fresh_browser_s": fresh, "cached_browser_s": cached}
                       for label, (fresh, cached) in {**anchor, **timed}.items()}


APPTEST_PAGES: tuple[tuple[str, str, dict[str, str], str | None], ...] = (
    # label, page script, query params, tab
    ("study page", "views/study.py", {"study": STUDY}, None),
    ("study page, importance tab", "views/study.py", {"study": STUDY}, "Importance"),
    ("study page, parallel coordinates tab", "views/study.py", {"study": STUDY}, "Parallel"),
    ("trial page", "views/trial.py", {"study": STUDY, "trial": "1"}, None),
    ("compare page", "views/compare.py", {"study": STUDY, "trials": "1,2,3"}, None),
    ("studies page", "views/studies.py", {}, None),
)


def apptest_mode(args: argparse.Namespace, url: str, result: dict[str, Any]) -> None:
    """Time the server-side renders (cold, then warm), then a cold load's storage reads."""
    print(f"measures: {APPTEST_MEASURES}")
    result["measures"] = APPTEST_MEASURES
    result["pages"] = {}
    for label, page, query, tab in APPTEST_PAGES:
        times, drew = time_page(url, page, query, args.repeat, tab)
        (cold, cold_cpu), later = times[0], times[1:] or times
        warm = statistics.median(t[0] for t in later)
        warm_cpu = statistics.median(t[1] for t in later)
        print(f"{label}: cold {cold:.2f} s ({cold_cpu:.2f} s CPU), warm {warm:.2f} s "
              f"({warm_cpu:.2f} s CPU); {args.trials} trials; {drew}", flush=True)
        result["pages"][label] = {"cold_s": cold, "cold_cpu_s": cold_cpu, "warm_s": warm,
                                  "warm_cpu_s": warm_cpu, "drew": drew}
    print("cold storage reads:")
    result["cold_storage_reads"] = {}
    for step, seconds, cpu in storage_breakdown(url):
        print(f"  {step}: {seconds:.2f} s ({cpu:.2f} s CPU)")
        result["cold_storage_reads"][step.strip()] = seconds


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from benchmarks.common import cpu_model, write_json

    result: dict[str, Any] = {"trials": args.trials, "repeat": args.repeat,
                              "machine": f"{cpu_model()}, {os.cpu_count()} CPUs",
                              "load_average": os.getloadavg()[0]}
    from streamlit import logger

    logger.set_log_level("error")  # AppTest's "no runtime" chatter
    warnings.filterwarnings("ignore", category=UserWarning)  # Optuna's small-sample notes
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep or Path(tmp) / "scale.db"
        url = f"sqlite:///{db}"
        if not db.exists():
            start = time.perf_counter()
            build_study(url, args.trials)
            print(f"built {args.trials} trials in {time.perf_counter() - start:.1f} s")
        if args.browser:
            browser_mode(args, url, Path(tmp), result)
        else:
            apptest_mode(args, url, result)
        write_json(args.json, result)


APPTEST_MEASURES = ("server-side render: seconds of AppTest.run() of the page script in this "
                    "process (storage reads, transforms, figures); no browser, no network, no "
                    "JavaScript")
BROWSER_MEASURES = ("headless Chromium, 1400 px, network blocked: seconds from page.goto (or "
                    "the tab click) until the view's Plotly charts are drawn, against a server "
                    "warmed by one untimed visit; fresh = new browser context each time (no "
                    "cached scripts), cached = the same context again")


if __name__ == "__main__":
    main()
