"""Compare page: two to four trials side by side, learning curves overlaid, costs and specs
diffed (only what differs, unless asked for everything)."""

from __future__ import annotations

import streamlit as st

from automl.storage import TrialRecord
from dashboard import figures, frames, loaders, ui
from dashboard.specs import costs_table, spec_table

MAX_TRIALS = 4


def render() -> None:
    url = loaders.storage_url()
    st.title("Compare trials")
    names = ui.study_names(url)
    if not names:
        return
    study = ui.pick_study(names)
    with ui.guard(url):
        by_number = loaders.records(url, study)
    numbers = sorted(by_number)
    asked = [t.strip() for t in st.query_params.get("trials", "").split(",") if t.strip()]
    unknown = [t for t in asked if not t.isdigit() or int(t) not in by_number]
    if unknown:
        ui.not_found(f"Study “{study}” has no trial {', '.join(unknown)}.", ui.STUDY,
                     f"Back to {study}", {"study": study})
    wanted = [int(t) for t in asked][:MAX_TRIALS]
    if wanted and st.session_state.get("compare_pick") != wanted:
        st.session_state["compare_pick"] = wanted  # a link from the study page wins
    elif not set(st.session_state.get("compare_pick") or [-1]) <= set(numbers):
        st.session_state["compare_pick"] = best_two(by_number)  # first visit, or new study
    picked = st.multiselect("Trials", numbers, key="compare_pick", max_selections=MAX_TRIALS,
                            help="Two to four trials.", on_change=_to_url)
    st.query_params["trials"] = ",".join(map(str, picked))
    if len(picked) < 2:
        st.info("Pick two to four trials to compare.")
        return
    recs = [by_number[n] for n in picked]
    cols = st.columns(len(recs))
    for col, rec in zip(cols, recs, strict=True):
        col.page_link(ui.TRIAL, label=f"trial {rec.number} · {rec.state.lower()}",
                      icon=":material/neurology:",
                      query_params={"study": study, "trial": str(rec.number)})
    st.subheader("Learning curves")
    data = frames.curves_frame(recs)
    if data.empty:
        st.info("None of these trials recorded an epoch.")
    else:
        st.plotly_chart(figures.curves_figure(data), key="compare_curves", width="stretch")
    st.subheader("Accuracy and costs")
    st.dataframe(costs_table(recs, text=True))
    st.subheader("Specs")
    everything = st.toggle("Show identical entries too", value=False, key="compare_all")
    diff = spec_table(recs, only_differences=not everything)
    if diff.empty:
        st.info("These trials have identical architecture, loss and hyperparameters.")
    else:
        st.dataframe(diff, height=min(600, 38 + 35 * len(diff)))


def _to_url() -> None:
    st.query_params["trials"] = ",".join(map(str, st.session_state["compare_pick"]))


def best_two(by_number: dict[int, TrialRecord]) -> list[int]:
    """The two most accurate trials (a sensible first comparison), else the first two."""
    done = [r for r in by_number.values() if r.val_accuracy is not None]
    done.sort(key=lambda r: (-(r.val_accuracy or 0.0), r.number))
    return [r.number for r in done[:2]] if len(done) >= 2 else sorted(by_number)[:2]


render()
