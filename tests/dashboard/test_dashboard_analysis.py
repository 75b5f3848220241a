"""Pure parts added for issue 13, without Streamlit or a database: numbers for people,
hypervolume, rungs, EDF, samples, timeline, contour cells, and the readable forms of plots of
big studies."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_dashboard_frames import RECORDS, rec

from automl.storage import EpochPoint
from dashboard import figures, frames, specs


def test_numbers_for_people() -> None:
    from dashboard.numbers import human, si

    assert si(1_152_000) == "1.15M" and si(950) == "950" and si(3.2e9) == "3.2G"
    assert human("flops", 1.152e6) == "1.15M" and human("params", 12_345) == "12.3k"
    assert human("val_accuracy", 1.0) == "1.0000"  # a perfect score is not "1"
    assert human("latency_ms", 0.12345) == "0.123" and human("best_epoch", 3) == "3"
    assert human("flops", None) == "—"
    costs = specs.costs_table([rec(0, acc=1.0, flops=1.152e6)], text=True)["trial 0"]
    assert costs["validation accuracy"] == "1.0000" and costs["FLOPs per sample"] == "1.15M"
    fig = figures.pareto_figure(frames.pareto_points(frames.leaderboard_frame(RECORDS),
                                                     "flops"), "flops")
    assert "%{x:.3s}" in fig.data[1].hovertemplate and fig.layout.xaxis.exponentformat == "SI"


def test_hypervolume() -> None:
    from automl.policy.front import hypervolume_2d
    from dashboard.analysis import hv_reference, hypervolume_history

    # Staircase of (0.5 @ cost 1) and (0.8 @ cost 2) to ref (0, 4): 0.5*3 + 0.3*2.
    assert hypervolume_2d([(0.5, 1.0), (0.8, 2.0), (0.6, 3.0)], (0.0, 4.0)) == pytest.approx(2.1)
    assert hypervolume_2d([(0.5, 5.0)], (0.0, 4.0)) == 0.0  # beyond the reference: nothing
    lb = frames.leaderboard_frame(RECORDS)
    hv = hypervolume_history(lb, "flops")
    assert list(hv["trial"]) == [0, 1, 2, 5]  # completion order
    assert list(hv["hypervolume"]) == sorted(hv["hypervolume"])  # never falls
    assert hv["hypervolume"].iloc[2] == hv["hypervolume"].iloc[1]  # 2 is dominated: flat
    ref = hv_reference(lb["flops"])
    assert ref == pytest.approx(math.log10(9e5) + 1)
    # By hand, in decades above each cost up to ref = log10(9e5) + 1: trial 0 (0.90 @ 2e4)
    # spans 1 + log10(45); trial 1 adds 0.05 over its last decade; 2 is dominated; 5 (0.85 @
    # 1e4) spans 1 + log10(90), and 0 and 1 rise 0.05 each above it over their own spans.
    lg = math.log10
    first = 0.9 * (1 + lg(45))
    last = 0.85 * (1 + lg(90)) + 0.05 * (1 + lg(45)) + 0.05
    expected = [first, first + 0.05, first + 0.05, last]
    assert list(hv["hypervolume"]) == pytest.approx(expected)


def test_rungs_edf_thin_and_timeline() -> None:
    from dashboard import analysis

    reasons = ["pruned by mo-asha at rung 1 (epoch 3): position 5 of 9 by Pareto rank", None,
               "pruned at epoch 1", "duplicate of trial 1", "boom"]
    lb = pd.DataFrame({"trial": range(5), "state": ["PRUNED", "COMPLETE", "PRUNED",
                                                    "COMPLETE", "FAIL"], "reason": reasons})
    rungs = analysis.rung_frame(lb, rungs=[1, 3])
    assert list(rungs["stage"]) == ["rung 1 (epoch 3)", "full budget", "rung 0 (epoch 1)",
                                    "repeat", "fail"]
    counts = analysis.rung_counts(rungs)
    assert list(counts["stage"]) == ["rung 0 (epoch 1)", "rung 1 (epoch 3)", "full budget",
                                     "repeat", "fail"]
    full = frames.leaderboard_frame(RECORDS)
    edf = analysis.edf_frame(full)
    assert list(edf["val_accuracy"]) == [0.8, 0.85, 0.9, 0.95]
    assert list(edf["fraction"]) == [0.25, 0.5, 0.75, 1.0]
    assert set(analysis.edf_frame(full, "loss_family")["group"]) == {"ce", "focal"}
    big = pd.DataFrame({"x": range(5000)})
    keep = big["x"] < 10
    thinned = analysis.thin(big, keep, n=300)
    assert len(thinned) == 300 and keep[thinned.index].sum() == 10
    assert thinned.equals(analysis.thin(big, keep, n=300))  # the same sample every time
    timeline = analysis.timeline_frame(full)
    assert list(timeline["trial"]) == [0, 1, 2, 3, 4, 5]
    assert (timeline["end"] >= timeline["started"]).all()


def test_contour_leaves_untried_cells_empty() -> None:
    from dashboard.charts import contour_figure

    params = pd.DataFrame({"trial": [0, 1, 2, 3], "val_accuracy": [0.5, 0.6, 0.7, 0.8],
                           "lr": [1e-4, 1e-3, 1e-2, 1e-1], "act": ["a", "b", "a", "a"]})
    heat = contour_figure(params, "lr", "act", n=3).data[0]
    assert list(heat.y) == ["a", "b"]
    z = [[None if v != v else v for v in row] for row in heat.z]
    # log10 lr spans -4..-1 in three cells: -4 | -3 | -2, -1; the best of each cell, and
    # nothing (not a colour) where no trial fell.
    assert z == [[0.5, None, 0.8], [None, 0.6, None]]


def test_big_studies_get_readable_plots() -> None:
    """Beyond a few thousand trials the clouds become densities (small grids, not every
    point), step lines keep only their steps, and parallel coordinates a sample."""
    from dashboard import analysis, charts

    n = analysis.READABLE_POINTS + 500
    many = [rec(i, acc=0.5 + (i % 97) / 400, flops=1e3 * (1 + i % 89),
                epochs=tuple(EpochPoint(e, 1.0, 0.1 * e, 1.0) for e in (1, 2)))
            for i in range(n)]
    lb = frames.leaderboard_frame(many)
    fig = figures.pareto_figure(frames.pareto_points(lb, "flops"), "flops")
    kinds = [t.type for t in fig.data]
    assert kinds == ["heatmap", "scatter"] and "density" in fig.data[0].name
    assert len(fig.data[0].z) == 40  # a 60 x 40 grid, whatever the number of trials
    hist = figures.history_figure(frames.history_frame(lb))
    assert hist.data[0].type == "heatmap"
    assert len(hist.data[1].x) == 97 + 1  # the best-so-far line: its 97 steps and its end
    curves = frames.curves_frame(many).merge(lb[["trial", "state"]], on="trial")
    dense = charts.study_curves_figure(curves, highlight={0, 1})
    assert [t.type for t in dense.data] == ["heatmap", "scatter"]
    timeline = charts.timeline_figure(analysis.timeline_frame(lb))
    assert all(len(t.x) == 60 for t in timeline.data)  # finished per interval, binned
    hv = analysis.hypervolume_history(lb, "flops")
    assert len(charts.hypervolume_figure(hv).data[0].x) < len(hv)
