"""Studies page: every study in the database, its trial counts by state, best validation
accuracy, cost objective and last update; click a row or a link to open the study."""

from __future__ import annotations

import streamlit as st

from automl.storage import mask_url
from dashboard import loaders, ui

COLUMNS = {
    "study": st.column_config.TextColumn("study"),
    "best_val_accuracy": st.column_config.NumberColumn("best val acc", format="%.4f"),
    "last_update": st.column_config.DatetimeColumn("last update (UTC)",
                                                   format="YYYY-MM-DD HH:mm:ss"),
    "fail": st.column_config.NumberColumn("failed"),
}


def render() -> None:
    url = loaders.storage_url()
    st.title("Studies")
    with ui.guard(url):
        frame = loaders.studies(url)
    running = bool(frame["running"].sum()) if not frame.empty else False
    every = ui.refresh_every(running, fresh_s=loaders.freshness("studies", url))
    st.fragment(run_every=every)(body)(url)


def body(url: str) -> None:
    with ui.guard(url):
        frame = loaders.studies(url)
    if frame.empty:
        st.info(f"No studies yet in `{mask_url(url)}`. Start one with "
                "`automl search --data digits --study NAME`; it appears here by itself.")
        return
    noun = "study" if len(frame) == 1 else "studies"
    st.caption(f"{len(frame)} {noun} in `{mask_url(url)}`. Select a row to open a study.")
    event = st.dataframe(frame, hide_index=True, column_config=COLUMNS, on_select="rerun",
                         selection_mode="single-row", key="studies_table")
    if event.selection.rows:
        name = str(frame.iloc[event.selection.rows[0]]["study"])
        st.switch_page(ui.STUDY, query_params={"study": name})
    cols = st.columns(min(len(frame), 4))
    for i, name in enumerate(frame["study"]):
        cols[i % len(cols)].page_link(ui.STUDY, label=f"Open {name}",
                                      icon=":material/scatter_plot:",
                                      query_params={"study": name})


render()
