"""Plotly figures for the study-wide views optuna-dashboard users know (slice, contour, EDF,
all learning curves, timeline) and the multi-fidelity ones (hypervolume over time, rungs).
Pure: frames in, figures out. Big studies get a readable form (density, a sample); the page
says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.analysis import READABLE_LINES
from dashboard.figures import FRONT, HEIGHT, LEGEND, OTHERS
from dashboard.frames import log_scaled

MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
STATE_COLORS = {"COMPLETE": "#1f77b4", "PRUNED": "#ff7f0e", "FAIL": "#d62728",
                "RUNNING": "#2ca02c", "WAITING": "#7f7f7f"}
MAX_TIMELINE_BARS = 500


def axis_values(values: pd.Series) -> tuple[pd.Series, str]:
    """Values for an axis and the suffix of its title: log10 for wide positive ranges, text
    for categories (and booleans), numbers as they are."""
    numeric = pd.to_numeric(values, errors="coerce")
    flags = values.map(lambda v: isinstance(v, bool | np.bool_)).any()
    if numeric.notna().all() and not flags:
        if log_scaled(numeric):
            return np.log10(numeric), " (log10)"
        return numeric, ""
    return values.astype(str), ""


def slice_figure(params: pd.DataFrame, names: list[str]) -> go.Figure:
    """Validation accuracy against each parameter on its own, one panel each, points
    coloured by trial number (late trials dark: where the sampler went)."""
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.03)
    for i, name in enumerate(names, start=1):
        rows = params[params[name].notna()]
        x, suffix = axis_values(rows[name])
        fig.add_trace(go.Scattergl(
            x=x, y=rows["val_accuracy"], mode="markers", name=name, showlegend=False,
            marker={"size": 5, "color": rows["trial"], "colorscale": "Blues",
                    "showscale": i == len(names), "colorbar": {"title": {"text": "trial"}}},
            customdata=rows["trial"],
            hovertemplate=f"trial %{{customdata}}<br>{name} %{{x}}<br>val acc %{{y:.4f}}"
                          "<extra></extra>"), row=1, col=i)
        fig.update_xaxes(title_text=name + suffix, row=1, col=i)
    fig.update_yaxes(title_text="validation accuracy", tickformat=".3f", row=1, col=1)
    fig.update_layout(height=HEIGHT, margin=MARGIN)
    return fig


def _bins(values: pd.Series, n: int) -> tuple[pd.Series, list[object]]:
    """Each value's cell on one axis and the cells' labels (centers, or categories)."""
    if pd.api.types.is_numeric_dtype(values):
        lo, hi = float(values.min()), float(values.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, n + 1)
        cell = np.clip(np.digitize(values, edges) - 1, 0, n - 1)
        return pd.Series(cell, index=values.index), list((edges[:-1] + edges[1:]) / 2)
    cats = sorted(values.unique())
    return values.map({c: i for i, c in enumerate(cats)}), list(cats)


def contour_figure(params: pd.DataFrame, x: str, y: str, n: int = 20) -> go.Figure:
    """The best validation accuracy reached in each cell of an ``n`` × ``n`` grid over two
    parameters (the binned counterpart of Optuna's contour plot: no interpolation between
    trials; a cell no trial fell in stays empty)."""
    rows = params.dropna(subset=[x, y])
    xs, xsuf = axis_values(rows[x])
    ys, ysuf = axis_values(rows[y])
    xi, xlabels = _bins(xs, n)
    yi, ylabels = _bins(ys, n)
    grid = np.full((len(ylabels), len(xlabels)), np.nan)
    best = rows["val_accuracy"].groupby([yi, xi]).max()
    for (r, c), value in best.items():
        grid[int(r), int(c)] = value
    fig = go.Figure(go.Heatmap(
        x=xlabels, y=ylabels, z=grid, colorscale="Viridis", hoverongaps=False,
        colorbar={"title": {"text": "best val acc"}},
        hovertemplate=f"{x} %{{x}}<br>{y} %{{y}}<br>best val acc %{{z:.4f}}<extra></extra>"))
    shown = rows if len(rows) <= READABLE_LINES else rows.sample(READABLE_LINES, random_state=0)
    fig.add_trace(go.Scatter(x=xs[shown.index], y=ys[shown.index], mode="markers",
                             name="trials", showlegend=False, hoverinfo="skip",
                             marker={"size": 4, "color": "white",
                                     "line": {"width": 0.5, "color": "black"}}))
    fig.update_layout(xaxis_title=x + xsuf, yaxis_title=y + ysuf, height=HEIGHT, margin=MARGIN)
    return fig


def edf_figure(edf: pd.DataFrame) -> go.Figure:
    """Fraction of completed trials at or below each validation accuracy, per group."""
    fig = go.Figure()
    for group, part in edf.groupby("group", sort=True):
        n = int(part["n"].iloc[0])
        fig.add_trace(go.Scatter(
            x=part["val_accuracy"], y=part["fraction"], mode="lines", line={"shape": "hv"},
            name=f"{group} ({n:,})",
            hovertemplate=f"{group}<br>val acc ≤ %{{x:.4f}}: %{{y:.1%}}<extra></extra>"))
    fig.update_layout(xaxis_title="validation accuracy", yaxis_title="fraction of trials",
                      yaxis_tickformat=".0%", xaxis_tickformat=".3f", height=HEIGHT,
                      legend=LEGEND, margin=MARGIN)
    return fig


def _lines(curves: pd.DataFrame) -> tuple[list[float | None], list[float | None], list[int]]:
    """Many learning curves as one trace: points joined within a trial, broken between."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    ids: list[int] = []
    for trial, part in curves.groupby("trial", sort=True):
        xs += [*part["epoch"].tolist(), None]
        ys += [*part["val_accuracy"].tolist(), None]
        ids += [int(trial)] * (len(part) + 1)
    return xs, ys, ids


def study_curves_figure(curves: pd.DataFrame, highlight: set[int]) -> go.Figure:
    """Every trial's validation accuracy per epoch, by state (pruned curves stop at their
    rung); the trials in ``highlight`` (the front) drawn on top in red. Beyond
    ``READABLE_LINES`` trials the others become a density of (epoch, accuracy)."""
    fig = go.Figure()
    others = curves[~curves["trial"].isin(highlight)]
    if others["trial"].nunique() > READABLE_LINES:
        # Binned here (one column per epoch): the browser gets a small grid, not every point.
        acc = others["val_accuracy"].dropna()
        epochs = others.loc[acc.index, "epoch"]
        xe = np.arange(epochs.min() - 0.5, epochs.max() + 1.0)
        counts, _, ye = np.histogram2d(epochs, acc, bins=(xe, 40))
        z = [[None if c == 0 else c for c in row] for row in counts.T.tolist()]
        fig.add_trace(go.Heatmap(
            x=xe, y=ye, z=z, name=f"other trials ({others['trial'].nunique():,}, density)",
            colorscale="Blues", showscale=False, showlegend=True, hoverongaps=False,
            hovertemplate="epoch %{x}<br>%{z:,} trials<extra></extra>"))
    else:
        for state, part in others.groupby("state", sort=True):
            xs, ys, ids = _lines(part)
            color = STATE_COLORS.get(str(state), OTHERS)
            fig.add_trace(go.Scattergl(
                x=xs, y=ys, mode="lines+markers", name=str(state).lower(), customdata=ids,
                line={"color": color, "width": 1}, marker={"size": 3, "color": color},
                opacity=0.6,
                hovertemplate="trial %{customdata}<br>epoch %{x}<br>%{y:.4f}<extra></extra>"))
    front = curves[curves["trial"].isin(highlight)]
    if not front.empty:
        xs, ys, ids = _lines(front)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name="Pareto front", customdata=ids,
            line={"color": FRONT, "width": 2},
            hovertemplate="trial %{customdata}<br>epoch %{x}<br>%{y:.4f}<extra></extra>"))
    fig.update_layout(xaxis_title="epoch", yaxis_title="validation accuracy",
                      yaxis_tickformat=".3f", height=HEIGHT, legend=LEGEND, margin=MARGIN)
    return fig


def timeline_figure(timeline: pd.DataFrame) -> go.Figure:
    """One bar per trial from start to end, coloured by state. Beyond
    ``MAX_TIMELINE_BARS`` trials, how many trials finished in each interval, by state."""
    fig = go.Figure()
    many = len(timeline) > MAX_TIMELINE_BARS
    if many:  # binned here: 60 bars per state, not one timestamp per trial
        ends = timeline["end"].astype("int64")
        edges = np.linspace(ends.min(), ends.max() + 1, 61)
        centers = pd.to_datetime(((edges[:-1] + edges[1:]) / 2).astype("int64"))
        width_ms = (edges[1] - edges[0]) / 1e6
    for state, part in timeline.groupby("state", sort=True):
        color = STATE_COLORS.get(str(state), OTHERS)
        if many:
            counts, _ = np.histogram(part["end"].astype("int64"), bins=edges)
            fig.add_trace(go.Bar(x=centers, y=counts, width=width_ms, name=str(state).lower(),
                                 marker_color=color,
                                 hovertemplate="%{x}: %{y:,} trials<extra></extra>"))
        else:
            ms = (part["end"] - part["started"]).dt.total_seconds() * 1000
            fig.add_trace(go.Bar(
                base=part["started"], x=ms, y=part["trial"], orientation="h",
                name=str(state).lower(), marker_color=color, customdata=ms / 1000,
                hovertemplate="trial %{y}<br>%{base|%H:%M:%S} + %{customdata:.1f} s"
                              "<extra></extra>"))
    fig.update_layout(barmode="stack" if many else "overlay", height=HEIGHT, legend=LEGEND,
                      margin=MARGIN, xaxis_type="date",
                      xaxis_title="time finished" if many else "time",
                      yaxis_title="trials finished" if many else "trial")
    return fig


def hypervolume_figure(hv: pd.DataFrame, by: str = "trial") -> go.Figure:
    """Hypervolume of the front after each completed trial (a step line: it never falls)."""
    # A step line needs only its steps and its end.
    steps = hv["hypervolume"].ne(hv["hypervolume"].shift()).to_numpy().copy()
    steps[-1:] = True
    hv = hv[steps]
    x = hv["trial"] if by == "trial" else hv["completed"]
    fig = go.Figure(go.Scatter(x=x, y=hv["hypervolume"], mode="lines",
                               line={"shape": "hv", "color": FRONT, "width": 2},
                               name="hypervolume", customdata=hv["trial"],
                               hovertemplate="after trial %{customdata}<br>%{y:.4g}"
                                             "<extra></extra>"))
    fig.update_layout(xaxis_title="trial" if by == "trial" else "time completed",
                      yaxis_title="hypervolume (accuracy × decades of cost)", height=HEIGHT,
                      margin=MARGIN)
    return fig


def rungs_figure(counts: pd.DataFrame) -> go.Figure:
    """How many candidates stopped at each rung, and how many trained to the end."""
    fig = go.Figure(go.Bar(x=counts["stage"], y=counts["candidates"], marker_color=FRONT,
                           hovertemplate="%{x}: %{y:,} candidates<extra></extra>"))
    fig.update_layout(xaxis_title="where the candidate stopped", yaxis_title="candidates",
                      yaxis_tickformat=",d", height=HEIGHT, margin=MARGIN)
    return fig
