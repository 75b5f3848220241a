"""The study page's charts: Pareto front, optimization history, importance, parallel
coordinates. Each takes the (filtered) leaderboard frame and draws one section."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import figures, frames, loaders, ui
from dashboard.loaders import StudyData

MAX_PARALLEL_DIMS = 6  # more axes than this do not fit half the page


def _open_clicked_trial(event: object, study: str) -> None:
    """A click on a point (which carries its trial number) opens that trial's page."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        custom = point.get("customdata")
        number = custom[0] if isinstance(custom, list | tuple) else custom
        if number is not None:
            st.switch_page(ui.TRIAL, query_params={"study": study, "trial": str(int(number))})


def pareto(lb: pd.DataFrame, data: StudyData, study: str, cost: str, log_x: bool) -> None:
    st.subheader("Pareto front")
    points = frames.pareto_points(lb, cost)
    if points.empty:
        st.info(f"No completed trial has a measured {frames.COSTS[cost]} yet.")
        return
    st.caption(f"{len(points)} completed trials; {int(points['on_front'].sum())} on the front "
               f"(red) of higher accuracy at lower {frames.COSTS[cost]}"
               f"{' (the cost this study minimizes)' if cost == data.cost else ''}. "
               "Hover for details; click a point to open its trial.")
    event = st.plotly_chart(figures.pareto_figure(points, cost, log_x=log_x), key="pareto",
                            on_select="rerun", selection_mode="points", width="stretch")
    _open_clicked_trial(event, study)


def history(lb: pd.DataFrame, study: str) -> None:
    hist = frames.history_frame(lb)
    if hist.empty:
        st.info("No completed trial yet.")
        return
    by = st.segmented_control("Over", ["trial", "time"], default="trial", required=True,
                              key="history_by")
    st.caption("Validation accuracy of each completed trial and the best so far.")
    event = st.plotly_chart(figures.history_figure(hist, by=by or "trial"), key="history",
                            on_select="rerun", selection_mode="points", width="stretch")
    _open_clicked_trial(event, study)


def importance(url: str, study: str, lb: pd.DataFrame) -> None:
    n_complete = int((lb["state"] == "COMPLETE").sum())
    evaluator = st.selectbox("Evaluator", loaders.EVALUATORS, key="importance_evaluator",
                             help="Optuna's importance evaluators; PED-ANOVA is the fastest.")
    try:
        result = loaders.importance(url, study, evaluator, n_complete)
    except Exception as exc:  # Optuna refuses small or degenerate studies in many ways
        st.info(f"No importance to show: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        return
    if not result:
        st.info("No parameter was searched in every completed trial, so Optuna has nothing "
                "to rank.")
        return
    st.caption(f"How much each searched parameter explains validation accuracy "
               f"(all {n_complete} completed trials, filters aside; {evaluator}).")
    st.plotly_chart(figures.importance_figure(result), key="importance", width="stretch")


def parallel(params: pd.DataFrame) -> None:
    if params.empty:
        st.info("No completed trial yet.")
        return
    names = [c for c in params.columns if c not in ("trial", "val_accuracy")]
    coverage = params[names].notna().mean().sort_values(ascending=False, kind="stable")
    chosen = st.multiselect("Parameters", names, default=list(coverage.index[:MAX_PARALLEL_DIMS]),
                            key="parallel_params")
    if not chosen:
        st.info("Choose at least one parameter.")
        return
    rows = params.dropna(subset=chosen)
    left_out = len(params) - len(rows)
    st.caption(f"{len(rows)} completed trials, coloured by validation accuracy"
               + (f"; {left_out} did not sample every chosen parameter and are left out."
                  if left_out else "."))
    if not rows.empty:
        st.plotly_chart(figures.parallel_figure(rows, chosen), key="parallel", width="stretch")


def analysis_tabs(url: str, study: str, lb: pd.DataFrame, data: StudyData) -> None:
    """History, importance and parallel coordinates in tabs that run only when opened."""
    tabs = st.tabs(["History", "Importance", "Parallel coordinates"], key="study_tab",
                   on_change="rerun")
    with tabs[0]:
        if tabs[0].open:
            history(lb, study)
    with tabs[1]:
        if tabs[1].open:
            importance(url, study, data.leaderboard)  # Optuna sees all, not the filter
    with tabs[2]:
        if tabs[2].open:
            parallel(data.params[data.params["trial"].isin(lb["trial"])])
