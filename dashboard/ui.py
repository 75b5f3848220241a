"""Small Streamlit pieces the pages share: error guard, page paths, study picker, formats."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import streamlit as st

from automl.errors import AutomlError
from automl.storage import mask_text, mask_url
from dashboard import loaders

# Page scripts, relative to app.py (how st.page_link and st.switch_page name them).
STUDIES = "views/studies.py"
STUDY = "views/study.py"
TRIAL = "views/trial.py"
COMPARE = "views/compare.py"

log = logging.getLogger("dashboard")


@contextlib.contextmanager
def guard(url: str) -> Iterator[None]:
    """Turn any error into one clear message on the page (never a traceback) and stop.

    Storage and user errors are expected (missing file, bad URL, unknown study) and already
    one line. Anything else is a bug: the traceback goes to the server log, not the browser.
    """
    try:
        yield
    except AutomlError as exc:
        st.error(mask_text(str(exc)), icon=":material/error:")
        _hint(url, str(exc))
        st.stop()
    except Exception as exc:
        log.exception("dashboard page failed")
        first = (str(exc).strip().splitlines() or [""])[0]
        st.error(f"Unexpected error ({type(exc).__name__}): {mask_text(first)}. "
                 "The full traceback is in the dashboard's terminal.",
                 icon=":material/bug_report:")
        st.stop()


def _hint(url: str, message: str) -> None:
    if "not found" in message or "holds no automl studies" in message:
        st.info("Start a search to create it, for example:\n\n"
                f"`automl search --data digits --storage {mask_url(url)}`\n\n"
                "This page picks it up by itself on the next refresh.")
    elif "not a valid SQLAlchemy URL" in message:
        st.info("Restart with a valid URL: `automl dashboard --storage sqlite:///automl.db` "
                "or `--storage postgresql+psycopg://user@host/db`.")


def synced_select(label: str, options: list[Any], *, key: str, param: str) -> Any:
    """A select box whose value lives in the URL (``?param=value``), so that links, bookmarks
    and reloads open the same thing. The URL wins over a value left from another page."""
    by_text = {str(o): o for o in options}
    wanted = by_text.get(str(st.query_params.get(param)))
    if wanted is not None and st.session_state.get(key) != wanted:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    value = st.selectbox(label, options, key=key, on_change=_to_url, args=(key, param))
    st.query_params[param] = str(value)
    return value


MAX_SELECT_OPTIONS = 1000  # beyond this a select box is slow to draw and to scroll


def synced_number(label: str, numbers: list[int], *, key: str, param: str) -> int:
    """:func:`synced_select` for a long sorted list of numbers (a 10,000-trial study): a
    number box, which costs the browser nothing whatever the count. A number between two
    existing ones snaps to the next one."""
    known = set(numbers)
    wanted = st.query_params.get(param)
    if wanted is not None and wanted.isdigit() and int(wanted) in known:
        if st.session_state.get(key) != int(wanted):
            st.session_state[key] = int(wanted)
    elif st.session_state.get(key) not in known:
        st.session_state[key] = numbers[0]
    value = int(st.number_input(label, min_value=numbers[0], max_value=numbers[-1], step=1,
                                key=key, on_change=_to_url, args=(key, param)))
    if value not in known:
        value = next(n for n in numbers if n > value)
    st.query_params[param] = str(value)
    return value


def _to_url(key: str, param: str) -> None:
    # Runs before the rerun, so the URL already names the user's new choice.
    st.query_params[param] = str(st.session_state[key])


def study_names(url: str, title: str | None = None) -> list[str]:
    """The studies in the database at ``url``; where there is none yet, the page says so
    (under ``title``, if given) and gets ``[]``."""
    with guard(url):
        names = loaders.study_names(url)
    if not names:
        if title is not None:
            st.title(title)
        st.info("This database holds no study yet; run `automl search` to start one.")
    return names


def pick_study(names: list[str], *, key: str = "study") -> str:
    """The study named in the URL (``?study=``) or chosen in the select box (``names`` is
    not empty: pages say "no study yet" before they ask). A study the URL names that is not
    in the database stops the page with a message: never another study's data."""
    wanted = st.query_params.get("study")
    if wanted is not None and wanted not in names:
        not_found(f"There is no study named “{wanted}” in this database.",
                  STUDIES, "All studies", {})
    return str(synced_select("Study", names, key=key, param="study"))


def not_found(message: str, page: str, label: str, query: dict[str, str]) -> None:
    """Say what the address asked for that does not exist, link to where to pick instead,
    and stop the page (the address is left as the user typed it)."""
    st.error(message, icon=":material/search_off:")
    st.page_link(page, label=label, icon=":material/arrow_forward:", query_params=query)
    st.stop()


def fmt(value: Any, spec: str = ".4g") -> str:
    """A value for people: an em dash for missing (a lone "-" would render as a Markdown
    bullet in tables), exact counts with thousands separators, else ``spec``."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15 and spec == ".4g"):
        return f"{int(value):,}"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


LIVE_S = 10  # while trials run: as often as the data cache expires (at least)
IDLE_S = 60  # nothing running: only notice a new search starting


def refresh_every(running: bool, live: bool = True, fresh_s: int = LIVE_S) -> int | None:
    """Seconds between fragment reruns (``st.fragment(run_every=...)``), never more often
    than the data is refreshed (``fresh_s``); None: no polling."""
    if not live:
        return None
    return max(LIVE_S, fresh_s) if running else max(IDLE_S, fresh_s)
