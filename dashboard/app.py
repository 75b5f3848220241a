"""The dashboard's entry point: ``streamlit run dashboard/app.py`` (what ``automl dashboard``
runs). Read only: it never trains and never writes to the database.

The storage URL comes from ``--storage URL`` after ``--`` or from $AUTOML_STORAGE (the CLI uses
the variable, so that the URL, which may hold a password, does not show in ``ps``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Streamlit runs this file as a script with its own folder on sys.path; the repository root
# must be there too for ``import dashboard`` to work from a plain checkout.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import streamlit as st  # noqa: E402

from dashboard import loaders, ui  # noqa: E402


def pages() -> list[st.Page]:
    """The four pages; URL paths are what links and bookmarks use (``/study?study=NAME``)."""
    return [
        st.Page(ui.STUDIES, title="Studies", icon=":material/list:", url_path="studies",
                default=True),
        st.Page(ui.STUDY, title="Study", icon=":material/scatter_plot:", url_path="study"),
        st.Page(ui.TRIAL, title="Trial", icon=":material/neurology:", url_path="trial"),
        st.Page(ui.COMPARE, title="Compare", icon=":material/compare_arrows:",
                url_path="compare"),
    ]


def icon() -> Any:
    """The browser tab's icon, drawn here: a ``:material/...:`` page icon makes the browser
    fetch an SVG from fonts.gstatic.com, which an offline cluster cannot reach."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, 31, 31), radius=6, fill=(238, 243, 251, 255))
    for x, y, red in ((6, 24, True), (11, 14, True), (19, 8, True), (15, 22, False),
                      (23, 18, False), (26, 26, False)):
        color = (214, 39, 40, 255) if red else (127, 156, 196, 255)
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)
    return img


def main() -> None:
    st.set_page_config(page_title="automl dashboard", page_icon=icon(), layout="wide")
    url = loaders.storage_url()
    # Navigation on top leaves the full width to tables and charts.
    nav = st.navigation(pages(), position="top")
    with ui.guard(url):
        nav.run()


if __name__ == "__main__":  # streamlit and AppTest run this file as __main__
    main()
