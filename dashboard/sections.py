"""The study page's charts: Pareto front, optimization history, importance, parallel
coordinates. Each takes the leaderboard frame as filtered and ranked for the page (the same
frame the leaderboard shows) and draws one section; the other views are in
:mod:`dashboard.explore`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, explore, figures, frames, loaders, ui
from dashboard.loaders import StudyData

MAX_PARALLEL_DIMS = 6  # more axes than this do not fit half the page
TABS = ["History", "Importance", "Parallel", "Slice", "Contour", "EDF", "Curves", "Timeline",
        "Hypervolume", "Rungs"]


def _open_clicked_trial(event: object, study: str) -> None:
    """A click on a point (which carries its trial number) opens that trial's page."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        custom = point.get("customdata")
        number = custom[0] if isinstance(custom, list | tuple) else custom
        if number is not None:
            st.switch_page(ui.TRIAL, query_params={"study": study, "trial": str(int(number))})


def pareto(ranked: pd.DataFrame, data: StudyData, study: str, cost: str, log_x: bool) -> None:
    st.subheader("Pareto front")
    points = frames.pareto_points(ranked, cost, ranked=True)
    if points.empty:
        st.info(f"No completed trial has a measured {frames.COSTS[cost]} yet.")
        return
    st.caption(f"{len(points):,} ranked trials; {int(points['on_front'].sum())} on the front "
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
    if len(hist) > analysis.READABLE_POINTS:
        st.caption(f"Validation accuracy of the {len(hist):,} completed trials as a density "
                   "(darker: more trials; too many to draw one by one) and the best so far.")
    else:
        st.caption("Validation accuracy of each completed trial and the best so far.")
    event = st.plotly_chart(figures.history_figure(hist, by=by or "trial"), key="history",
                            on_select="rerun", selection_mode="points", width="stretch")
    _open_clicked_trial(event, study)


MIN_TRIALS_PER_PARAM = 10  # below this many completed trials per parameter: a rough hint
MIN_TRIALS = 30


def importance(url: str, study: str, lb: pd.DataFrame) -> None:
    n_complete = int((lb["state"] == "COMPLETE").sum())
    evaluator = st.selectbox("Evaluator", loaders.EVALUATORS, key="importance_evaluator",
                             help="Optuna's importance evaluators; PED-ANOVA is the fastest.")
    try:
        result = loaders.importance(url, study, evaluator, n_complete)
    except Exception as exc:  # Optuna refuses small or degenerate studies in many ways
        st.info(f"No importance to show: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        return
    if not result.values:
        st.info("No parameter was searched in every completed trial, so Optuna has nothing "
                "to rank.")
        return
    n, k = result.n_trials, len(result.values)
    st.caption(f"Method: {result.evaluator}, by Optuna, on {n:,} completed trials and {k} "
               "parameters (those searched in every completed trial), for validation "
               "accuracy. Study-wide: the filters above do not apply.")
    if n < max(MIN_TRIALS, MIN_TRIALS_PER_PARAM * k):
        st.warning(f"Only {n:,} completed trials for {k} parameters (fewer than "
                   f"{MIN_TRIALS_PER_PARAM} per parameter, or fewer than {MIN_TRIALS}): read "
                   "this ranking as a rough hint, not a measurement.",
                   icon=":material/warning:")
    for said in result.warnings[:3]:
        st.warning(f"Optuna: {said}", icon=":material/warning:")
    st.plotly_chart(figures.importance_figure(result.values, result.meaning), key="importance",
                    width="stretch")


def parallel(url: str, study: str, ranked: pd.DataFrame, data: StudyData) -> None:
    params = data.params[data.params["trial"].isin(ranked["trial"])]
    if params.empty:
        st.info("No completed trial yet.")
        return
    names = [c for c in params.columns if c not in ("trial", "val_accuracy")]
    order, why = explore.by_importance(url, study, data, names)
    chosen = st.multiselect("Parameters", names, default=order[:MAX_PARALLEL_DIMS],
                            key="parallel_params", help=why)
    if not chosen:
        st.info("Choose at least one parameter.")
        return
    rows = params.dropna(subset=chosen)
    left_out = len(params) - len(rows)
    front = set(ranked.loc[ranked["pareto"], "trial"])
    shown = analysis.thin(rows, rows["trial"].isin(front))
    what = (f"{len(rows):,} completed trials" if len(shown) == len(rows) else
            f"the {len(front & set(rows['trial']))} trials on the front and a random sample "
            f"of the others ({len(shown):,} of {len(rows):,} lines: all of them would be one "
            "solid tangle)")
    st.caption(f"{what}, coloured by validation accuracy; axes: {why[0].lower() + why[1:]}"
               + (f"; {left_out:,} did not sample every chosen parameter and are left out."
                  if left_out else "."))
    if not shown.empty:
        st.plotly_chart(figures.parallel_figure(shown, chosen), key="parallel", width="stretch")


def analysis_tabs(url: str, study: str, ranked: pd.DataFrame, data: StudyData,
                  cost: str) -> None:
    """The study-wide views in tabs that run only when opened."""
    tabs = st.tabs(TABS, key="study_tab", on_change="rerun")
    views = {
        "History": lambda: history(ranked, study),
        "Importance": lambda: importance(url, study, data.leaderboard),  # Optuna sees all
        "Parallel": lambda: parallel(url, study, ranked, data),
        "Slice": lambda: explore.slice_view(url, study, ranked, data),
        "Contour": lambda: explore.contour_view(url, study, ranked, data),
        "EDF": lambda: explore.edf_view(ranked),
        "Curves": lambda: explore.curves_view(url, study, ranked),
        "Timeline": lambda: explore.timeline_view(ranked),
        "Hypervolume": lambda: explore.hypervolume_view(ranked, cost),
        "Rungs": lambda: explore.rungs_view(ranked, data),
    }
    for tab, name in zip(tabs, TABS, strict=True):
        with tab:
            if tab.open:
                views[name]()
