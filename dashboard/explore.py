"""The study page's other views, one function each: slice, contour, EDF, every learning curve,
timeline, hypervolume over time and the rung each candidate reached. Each takes the leaderboard
frame as filtered and ranked for the page, so it shows what the table shows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, charts, frames, loaders
from dashboard.loaders import StudyData

MAX_SLICE_PANELS = 4


def by_importance(url: str, study: str, data: StudyData, names: list[str]
                  ) -> tuple[list[str], str]:
    """``names`` with the most important first (PED-ANOVA on the whole study, the cached
    result the Importance tab shows), and a sentence saying how they were ordered. Where
    Optuna cannot rank them, by how many trials sampled each."""
    lb = data.leaderboard
    try:
        result = loaders.importance(url, study, "PED-ANOVA", int((lb["state"] == "COMPLETE")
                                                                  .sum()))
        ranked = [n for n in result.values if n in names]
        if ranked:
            rest = [n for n in names if n not in ranked]
            return ranked + rest, "Most important first (PED-ANOVA, whole study)"
    except Exception:  # noqa: S110 - no ranking is a normal answer for a young study
        pass
    coverage = data.params[names].notna().mean().sort_values(ascending=False, kind="stable")
    return list(coverage.index), "Most often sampled first (no importance ranking yet)"


def _params(ranked: pd.DataFrame, data: StudyData) -> tuple[pd.DataFrame, list[str]]:
    params = data.params[data.params["trial"].isin(ranked["trial"])]
    return params, [c for c in params.columns if c not in ("trial", "val_accuracy")]


def _sampled_note(n_all: int, n_shown: int) -> str:
    if n_shown == n_all:
        return ""
    return (f" A random sample of {n_shown:,} of the {n_all:,} trials is drawn (all of them "
            "would hide each other).")


def slice_view(url: str, study: str, ranked: pd.DataFrame, data: StudyData) -> None:
    params, names = _params(ranked, data)
    if params.empty or not names:
        st.info("No completed trial with searched parameters yet.")
        return
    order, why = by_importance(url, study, data, names)
    chosen = st.multiselect("Parameters", names, default=order[:MAX_SLICE_PANELS],
                            key="slice_params", max_selections=6, help=why)
    if not chosen:
        st.info("Choose at least one parameter.")
        return
    shown = analysis.thin(params, n=analysis.READABLE_POINTS)
    st.caption("Validation accuracy against each parameter alone; darker points are later "
               "trials." + _sampled_note(len(params), len(shown)))
    st.plotly_chart(charts.slice_figure(shown, chosen), key="slice", width="stretch")


def contour_view(url: str, study: str, ranked: pd.DataFrame, data: StudyData) -> None:
    params, names = _params(ranked, data)
    if params.empty or len(names) < 2:
        st.info("A contour needs two searched parameters and a completed trial.")
        return
    order, why = by_importance(url, study, data, names)
    left, right = st.columns(2)
    x = left.selectbox("x", order, index=0, key="contour_x", help=why)
    y = right.selectbox("y", order, index=1, key="contour_y")
    if x == y:
        st.info("Choose two different parameters.")
        return
    n = len(params.dropna(subset=[x, y]))
    st.caption(f"Best validation accuracy in each cell of a 20 × 20 grid over {x} and {y} "
               f"({n:,} trials; white dots: trials, at most {analysis.READABLE_LINES}). "
               "Cells, not interpolation: an empty cell was never tried.")
    st.plotly_chart(charts.contour_figure(params, x, y), key="contour", width="stretch")


def edf_view(ranked: pd.DataFrame) -> None:
    by = st.segmented_control("Per", ["all", "loss family", "architecture space"],
                              default="all", required=True, key="edf_by")
    column = {"loss family": "loss_family", "architecture space": "arch_space"}.get(by or "")
    edf = analysis.edf_frame(ranked, column)
    if edf.empty:
        st.info("No completed trial yet.")
        return
    st.caption("Empirical distribution: the fraction of completed trials at or below each "
               "validation accuracy. A curve further right is a family whose trials are "
               "better across the board, not only at its best.")
    st.plotly_chart(charts.edf_figure(edf), key="edf", width="stretch")


def curves_view(url: str, study: str, ranked: pd.DataFrame) -> None:
    curves = loaders.curves(url, study)
    curves = curves.merge(ranked[["trial", "state"]], on="trial")
    if curves.empty:
        st.info("No trial has recorded an epoch yet.")
        return
    front = set(ranked.loc[ranked["pareto"], "trial"])
    n = curves["trial"].nunique()
    dense = n - len(front & set(curves["trial"])) > analysis.READABLE_LINES
    st.caption(f"Validation accuracy per epoch of all {n:,} trials with a curve; pruned "
               "trials stop where they were stopped. The front is drawn red"
               + (" over a density of all the others (too many to draw one by one)."
                  if dense else "."))
    st.plotly_chart(charts.study_curves_figure(curves, front), key="study_curves",
                    width="stretch")


def timeline_view(ranked: pd.DataFrame) -> None:
    timeline = analysis.timeline_frame(ranked)
    if timeline.empty:
        st.info("No trial has a start time yet.")
        return
    many = len(timeline) > charts.MAX_TIMELINE_BARS
    st.caption(f"{len(timeline):,} trials: "
               + ("how many finished in each interval, by state (one bar per trial would be "
                  "thinner than a pixel)." if many else
                  "when each ran, coloured by state (several at once: parallel workers)."))
    st.plotly_chart(charts.timeline_figure(timeline), key="timeline", width="stretch")


def hypervolume_view(ranked: pd.DataFrame, cost: str) -> None:
    by = st.segmented_control("Over", ["trial", "time"], default="trial", required=True,
                              key="hv_by")
    hv = analysis.hypervolume_history(ranked, cost, "trial" if by == "trial" else "completed")
    if hv.empty:
        st.info(f"No completed trial has a measured {frames.COSTS[cost]} yet.")
        return
    ref = analysis.hv_reference(ranked.loc[ranked["state"] == "COMPLETE", cost])
    st.caption(f"Area the front dominates in (validation accuracy, log10 "
               f"{frames.COSTS[cost]}) after each completed trial; reference point: accuracy "
               f"0 and 10^{ref:.2f} (one decade above the costliest trial). It rises when a "
               "trial improves the front and stays flat otherwise.")
    st.plotly_chart(charts.hypervolume_figure(hv, by or "trial"), key="hypervolume",
                    width="stretch")


def rungs_view(ranked: pd.DataFrame, data: StudyData) -> None:
    pruned = int((ranked["state"] == "PRUNED").sum())
    if data.pruner == "none" and not pruned:
        st.info("Pruning is off in this study: every candidate trains its full budget.")
        return
    rungs = analysis.rung_frame(ranked)
    counts = analysis.rung_counts(rungs)
    st.caption(f"Where each of the {len(rungs):,} candidates stopped: pruned at a rung "
               "(its reason names it) or trained to the full budget; the table lists each "
               "trial.")
    st.plotly_chart(charts.rungs_figure(counts), key="rungs", width="stretch")
    st.dataframe(rungs.sort_values("trial"), hide_index=True, height=240, key="rungs_table")
