"""Plotly figures from the frames of :mod:`dashboard.frames`. Pure: frames in, figures out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.analysis import READABLE_POINTS, density
from dashboard.frames import COSTS, log_scaled
from dashboard.numbers import D3

WEBGL_ABOVE = 1000  # SVG scatter slows the browser down beyond about a thousand points
FRONT = "#d62728"
OTHERS = "#9bb7d4"
HEIGHT = 360
# Above the plot: below it, a horizontal legend collides with the x-axis title.
LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def _scatter(n: int) -> type[go.Scatter] | type[go.Scattergl]:
    return go.Scattergl if n > WEBGL_ABOVE else go.Scatter


def pareto_figure(points: pd.DataFrame, cost: str, *, log_x: bool = True) -> go.Figure:
    """Validation accuracy against ``cost``; the front is drawn red and joined by a step line.
    Each point carries its trial number as ``customdata[0]`` (the page opens it on click)."""
    fig = go.Figure()
    label = COSTS.get(cost, cost)
    fmt = D3.get(cost, ".3g")
    hover = ("trial %{customdata[0]}<br>val acc %{y:.4f}<br>" + label
             + f" %{{x:{fmt}}}<br>%{{customdata[1]}}<br>%{{customdata[2]}}<extra></extra>")
    for on_front, name, color, size in ((False, "other trials", OTHERS, 7),
                                        (True, "Pareto front", FRONT, 10)):
        part = points[points["on_front"] == on_front]
        if on_front:
            part = part.sort_values(cost)
        elif len(part) > READABLE_POINTS:
            # Thousands of points are a cloud: its density reads better and draws faster.
            fig.add_trace(density_trace(part[cost], part["val_accuracy"], log_x=log_x,
                                        name=f"other trials ({len(part):,}, density)"))
            continue
        fig.add_trace(_scatter(len(part))(
            x=part[cost], y=part["val_accuracy"], name=name,
            mode="lines+markers" if on_front else "markers",
            line={"shape": "hv", "color": color, "width": 1},
            marker={"color": color, "size": size},
            customdata=np.stack([part["trial"], part["arch"].fillna("-"),
                                 part["loss_formula"].fillna("-")], axis=-1)
            if len(part) else None,
            hovertemplate=hover,
        ))
    fig.update_layout(
        xaxis_title=label + (" (log)" if log_x else ""), yaxis_title="validation accuracy",
        xaxis_type="log" if log_x else "linear", height=HEIGHT, legend=LEGEND,
        xaxis_exponentformat="SI", yaxis_tickformat=".3f",
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, clickmode="event+select",
    )
    return fig


def density_trace(x: pd.Series, y: pd.Series, *, log_x: bool = False,
                  name: str = "trials") -> go.Heatmap:
    """A cloud of points as a grid of counts (see :func:`dashboard.analysis.density`)."""
    xe, ye, z = density(x, y, log_x=log_x)
    return go.Heatmap(x=xe, y=ye, z=z, name=name, showlegend=True, showscale=False,
                      colorscale="Blues", hoverongaps=False,
                      hovertemplate="%{z:,} trials<extra></extra>")


def history_figure(history: pd.DataFrame, by: str = "trial") -> go.Figure:
    """Each completed trial's accuracy and the best so far, over trial number or over time.
    Beyond ``READABLE_POINTS`` trials the points become a density (how many trials fell in
    each cell), which stays readable where ten thousand markers are a solid smear."""
    xcol = "trial" if by == "trial" else "completed"
    order = history.sort_values(xcol)
    best = order["best_by_trial" if by == "trial" else "best_by_time"]
    # A step line needs only the steps (and the end): 10,000 points would weigh as much.
    steps = best.ne(best.shift()) | (np.arange(len(best)) == len(best) - 1)
    order, best = order[steps.to_numpy()], best[steps.to_numpy()]
    if len(history) > READABLE_POINTS:
        trials: go.BaseTraceType = density_trace(history[xcol], history["val_accuracy"],
                                                 name=f"trials ({len(history):,}, density)")
    else:
        trials = _scatter(len(history))(
            x=history[xcol], y=history["val_accuracy"], mode="markers", name="trial",
            marker={"color": OTHERS, "size": 6}, customdata=history["trial"],
            hovertemplate="trial %{customdata}<br>%{y:.4f}<extra></extra>")
    fig = go.Figure([
        trials,
        go.Scatter(x=order[xcol], y=best, name="best so far",
                   mode="lines", line={"shape": "hv", "color": FRONT, "width": 2}),
    ])
    if by == "trial" and len(history) and history["trial"].max() - history["trial"].min() < 20:
        fig.update_xaxes(dtick=1)  # trial numbers, not 0.5 steps
    fig.update_layout(xaxis_title="trial" if by == "trial" else "time completed",
                      yaxis_title="validation accuracy", height=HEIGHT, yaxis_tickformat=".3f",
                      legend=LEGEND, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def importance_figure(importances: Mapping[str, float], label: str = "importance"
                      ) -> go.Figure:
    """Horizontal bars, most important parameter on top; ``label`` says what they measure."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color=FRONT, hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(xaxis_title=label, height=max(240, 28 * len(items) + 80),
                      margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def parallel_figure(params: pd.DataFrame, columns: list[str]) -> go.Figure:
    """Parallel coordinates over the chosen parameters, coloured by validation accuracy.
    Categorical parameters get one tick per category; wide positive ranges a log10 axis."""
    dims = []
    for col in columns:
        values = params[col]
        numeric = pd.to_numeric(values, errors="coerce")
        # Booleans convert to 0/1 but read better as two named categories.
        flags = values.map(lambda v: isinstance(v, bool | np.bool_)).any()
        if numeric.notna().all() and not flags:
            if log_scaled(numeric):
                dims.append({"label": f"log10 {col}", "values": np.log10(numeric)})
            else:
                dims.append({"label": col, "values": numeric})
        else:
            cats = sorted(values.astype(str).unique())
            codes = values.astype(str).map({c: i for i, c in enumerate(cats)})
            dims.append({"label": col, "values": codes, "tickvals": list(range(len(cats))),
                         "ticktext": cats})
    dims.append({"label": "val accuracy", "values": params["val_accuracy"]})
    fig = go.Figure(go.Parcoords(
        line={"color": params["val_accuracy"], "colorscale": "Viridis", "showscale": True},
        dimensions=dims,
    ))
    fig.update_layout(height=HEIGHT, margin={"l": 60, "r": 40, "t": 50, "b": 20})
    return fig


def curves_figure(curves: pd.DataFrame) -> go.Figure:
    """Train loss and validation accuracy per epoch, one line per trial (overlaid)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "validation accuracy"))
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, (trial, part) in enumerate(curves.groupby("trial", sort=True)):
        color = palette[i % len(palette)]
        for col, metric in ((1, "train_loss"), (2, "val_accuracy")):
            fig.add_trace(go.Scatter(
                x=part["epoch"], y=part[metric], mode="lines+markers", name=f"trial {trial}",
                legendgroup=str(trial), showlegend=col == 1, line={"color": color},
                hovertemplate=f"trial {trial}<br>epoch %{{x}}<br>%{{y:.4f}}<extra></extra>",
            ), row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1 if curves["epoch"].nunique() <= 20 else None)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
