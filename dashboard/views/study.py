"""Study page: trial counts, the Pareto front of accuracy against cost, optimization history,
parameter importance, parallel coordinates and the leaderboard. The page body is a fragment
that reruns by itself while trials run (only the fragment, never the whole page)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from automl.storage import mask_url
from dashboard import frames, loaders, sections, ui
from dashboard.loaders import StudyData

MAX_COMPARE = 4
COLUMNS = {
    "trial": st.column_config.NumberColumn("trial", width="small"),
    "rank": st.column_config.NumberColumn("rank", width="small",
                                          help="Pareto rank among the trials shown, on "
                                               "accuracy vs the chosen cost (0 = on the front)"),
    "pareto": st.column_config.CheckboxColumn("front", width="small"),
    "val_accuracy": st.column_config.NumberColumn("val acc", format="%.4f"),
    "test_accuracy": st.column_config.NumberColumn("test acc", format="%.4f"),
    "params": st.column_config.NumberColumn("params", format="compact"),
    "flops": st.column_config.NumberColumn("FLOPs", format="compact"),
    "latency_ms": st.column_config.NumberColumn("latency ms", format="%.3f"),
    "peak_memory_mb": st.column_config.NumberColumn("memory MB", format="%.1f"),
    "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
    "loss_formula": st.column_config.TextColumn("loss", width="large"),
    "completed": st.column_config.DatetimeColumn("completed (UTC)", format="MM-DD HH:mm:ss"),
}


def render() -> None:
    url = loaders.storage_url()
    names = ui.study_names(url, title="Study")
    if not names:
        return
    title, pick, toggle = st.columns([5, 2, 1], vertical_alignment="bottom")
    with pick:
        study = ui.pick_study(names)
    title.title(study)
    live = toggle.toggle("Live", value=True, key="live",
                         help="Refresh while trials run (only this part of the page reruns).")
    with ui.guard(url):
        data = loaders.study_data(url, study)
    running = bool((data.leaderboard["state"] == "RUNNING").any())
    every = ui.refresh_every(running, live, loaders.freshness("study", url, study))
    st.fragment(run_every=every)(body)(url, study)


def body(url: str, study: str) -> None:
    with ui.guard(url):
        data = loaders.study_data(url, study)
    lb = data.leaderboard
    header(url, data)
    if lb.empty:
        st.info("This study has no trials yet; they appear here as the search runs.")
        return
    if not (lb["state"] == "COMPLETE").any():
        st.warning("No trial of this study has completed yet, so there is no front to show. "
                   "Why the trials stopped:")
        st.dataframe(lb[["trial", "state", "reason"]], hide_index=True)
        return
    shown, cost, log_x = controls(lb, data)
    # One ranking for the plot, the tabs and the table: among the trials shown, on the cost
    # chosen (the study's own ranking when nothing is filtered and the cost is the study's).
    ranked = frames.rerank(shown, cost)
    left, right = st.columns(2)
    with left:
        sections.pareto(ranked, data, study, cost, log_x)
    with right:
        sections.analysis_tabs(url, study, ranked, data, cost)
    leaderboard(ranked, study, cost, len(lb))


def header(url: str, data: StudyData) -> None:
    lb = data.leaderboard
    counts = frames.state_counts(lb)
    objective = ("validation accuracy" if data.objective == "val_accuracy"
                 else f"validation accuracy vs {frames.COSTS.get(data.cost, data.cost)}")
    last = lb[["started", "completed"]].max().max() if not lb.empty else None
    when = f"{last:%Y-%m-%d %H:%M:%S} UTC" if last is not None and pd.notna(last) else "-"
    st.caption(f"Objective: {objective} · last update {when} · `{mask_url(url)}`")
    cols = st.columns(6)
    cols[0].metric("trials", f"{len(lb):,}")
    for col, state in zip(cols[1:5], ("COMPLETE", "PRUNED", "FAIL", "RUNNING"), strict=True):
        col.metric(state.lower() if state != "FAIL" else "failed", f"{counts.get(state, 0):,}")
    cols[5].metric("best val acc", ui.fmt(lb["val_accuracy"].max(), ".4f"))


def controls(lb: pd.DataFrame, data: StudyData) -> tuple[pd.DataFrame, str, bool]:
    """Filters (state, loss family, architecture space; empty = all) and the front's cost."""
    cols = st.columns([2, 2, 2, 2, 1], vertical_alignment="bottom")
    chosen = {}
    for col, (key, label) in zip(cols, (("state", "State"), ("loss_family", "Loss family"),
                                        ("arch_space", "Architecture space")), strict=False):
        options = sorted(lb[key].fillna("-").unique())
        chosen[key] = col.multiselect(label, options, key=f"filter_{key}", placeholder="all")
    costs = list(frames.COSTS)
    cost = str(cols[3].selectbox(
        "Cost", costs, index=costs.index(data.cost) if data.cost in costs else 0,
        format_func=lambda c: frames.COSTS[c], key="pareto_cost",
    ))
    log_x = cols[4].toggle("Log scale", value=True, key="pareto_log")
    shown = frames.filter_frame(lb, states=chosen["state"] or None,
                                loss_families=chosen["loss_family"] or None,
                                arch_spaces=chosen["arch_space"] or None)
    if len(shown) < len(lb) or cost != data.cost:
        where = (f"the {len(shown):,} of {len(lb):,} trials that match the filters"
                 if len(shown) < len(lb) else f"all {len(lb):,} trials")
        st.info(f"Ranks and the Pareto front, in the plot and in the leaderboard alike, are "
                f"computed among {where}, on validation accuracy vs {frames.COSTS[cost]}. "
                f"The study's own ranking (all trials, {frames.COSTS.get(data.cost, data.cost)}"
                ") can differ. Importance stays study-wide.", icon=":material/filter_alt:")
    return shown, cost, log_x


def leaderboard(lb: pd.DataFrame, study: str, cost: str, total: int) -> None:
    st.subheader("Leaderboard")
    scope = (f"the {len(lb):,} trials shown" if len(lb) < total else "all trials")
    st.caption(f"Ranked by Pareto rank on validation accuracy vs {frames.COSTS[cost]} among "
               f"{scope}, then accuracy. Click a header to sort; select one row to open its "
               f"trial, two to {MAX_COMPARE} to compare them.")
    table = lb.drop(columns=list(frames.HIDDEN))
    if table.empty:
        st.info("No trial matches the filters.")
        return
    event = st.dataframe(table, hide_index=True, column_config=COLUMNS,
                         height=min(400, 38 + 35 * len(table)),
                         on_select="rerun", selection_mode="multi-row", key="leaderboard")
    picked = [int(table.iloc[i]["trial"]) for i in event.selection.rows]
    links = st.columns(MAX_COMPARE + 1)
    if not picked:
        best = int(table.iloc[0]["trial"])
        links[0].page_link(ui.TRIAL, label=f"Open the top trial ({best})",
                           icon=":material/neurology:",
                           query_params={"study": study, "trial": str(best)})
    for col, number in zip(links, picked[:MAX_COMPARE], strict=False):
        col.page_link(ui.TRIAL, label=f"Open trial {number}", icon=":material/neurology:",
                      query_params={"study": study, "trial": str(number)})
    if 2 <= len(picked) <= MAX_COMPARE:
        links[-1].page_link(ui.COMPARE, label="Compare", icon=":material/compare_arrows:",
                            query_params={"study": study,
                                          "trials": ",".join(map(str, picked))})
    elif len(picked) > MAX_COMPARE:
        st.warning(f"Select at most {MAX_COMPARE} trials to compare.")


render()
