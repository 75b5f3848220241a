"""The dashboard's pure parts, without Streamlit or a database: frames, specs, diagrams,
figures, and the small decisions (storage URL, refresh interval)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from dashboard_db import CNN, MLP

from automl.policy.ranking import pareto_ranks
from automl.storage import EpochPoint, StudySummary, TrialRecord
from dashboard import archviz, figures, frames, specs

T0 = datetime(2026, 1, 1)


def rec(number: int, state: str = "COMPLETE", acc: float | None = 0.9,
        flops: float | None = 1e4, **kw: Any) -> TrialRecord:
    fields: dict[str, Any] = {
        "val_accuracy": acc if state == "COMPLETE" else None, "flops": flops,
        "params": 100 * (number + 1), "latency_ms": 0.1, "arch": MLP, "arch_space": "mlp",
        "loss_family": "ce", "loss_formula": "CE", "params_searched": {"lr": 0.01},
        "datetime_start": T0 + timedelta(minutes=number),
        "datetime_complete": T0 + timedelta(minutes=number + 1),
    }
    fields.update(kw)
    values = (acc, flops) if state == "COMPLETE" and acc and flops else None
    return TrialRecord(study="s", number=number, state=state, values=values, **fields)


RECORDS = [
    rec(0, acc=0.90, flops=2e4),
    rec(1, acc=0.95, flops=9e5, arch=CNN, arch_space="cnn2d", loss_family="focal"),
    rec(2, acc=0.80, flops=5e4),  # dominated by 0
    rec(3, state="PRUNED", reason="pruned at epoch 1"),
    rec(4, state="FAIL", acc=None, flops=None, arch=None, reason="boom"),
    rec(5, acc=0.85, flops=1e4, params_searched={"lr": 0.1, "width": 32}),
]


def test_leaderboard_frame_ranks_like_the_cli() -> None:
    lb = frames.leaderboard_frame(RECORDS, cost="flops")
    assert list(lb.columns) == list(frames.LEADERBOARD_COLUMNS)
    assert list(lb["trial"]) == [1, 0, 5, 2, 3, 4]  # front by accuracy, then the rest
    assert list(lb["pareto"]) == [True, True, True, False, False, False]
    assert lb["rank"].isna().tolist() == [False] * 4 + [True] * 2
    assert lb.loc[lb["trial"] == 1, "arch"].item() == "cnn2d w8/16 4b"
    assert lb.loc[lb["trial"] == 0, "arch"].item() == "mlp 32-16"
    by_params = frames.leaderboard_frame(RECORDS, cost="params")
    assert list(by_params["trial"])[:2] == [1, 0]  # params grow with the trial number


def test_pareto_points_match_ranking_for_any_cost() -> None:
    lb = frames.leaderboard_frame(RECORDS, cost="flops")
    for cost in ("flops", "params", "latency_ms"):
        pts = frames.pareto_points(lb, cost)
        assert set(pts["trial"]) == {0, 1, 2, 5}  # completed, with both numbers
        ranks = pareto_ranks(list(zip(pts["val_accuracy"], pts[cost], strict=True)))
        assert list(pts["on_front"]) == [r == 0 for r in ranks]
    assert set(frames.pareto_points(lb, "flops").query("on_front")["trial"]) == {0, 1, 5}
    # Equal latency everywhere: only the most accurate trial is on that front.
    assert set(frames.pareto_points(lb, "latency_ms").query("on_front")["trial"]) == {1}
    assert frames.pareto_points(lb, "peak_memory_mb").empty  # never measured


def test_filters_and_counts() -> None:
    lb = frames.leaderboard_frame(RECORDS)
    assert frames.state_counts(lb) == {"COMPLETE": 4, "PRUNED": 1, "FAIL": 1}
    assert list(frames.filter_frame(lb, states=["PRUNED", "FAIL"])["trial"]) == [3, 4]
    assert list(frames.filter_frame(lb, loss_families=["focal"])["trial"]) == [1]
    assert list(frames.filter_frame(lb, arch_spaces=["cnn2d"], states=["COMPLETE"])["trial"]
                ) == [1]
    assert len(frames.filter_frame(lb)) == len(lb)


def test_history_is_best_so_far_by_number_and_by_time() -> None:
    late = rec(0, acc=0.99, datetime_complete=T0 + timedelta(hours=5))
    lb = frames.leaderboard_frame([late, rec(1, acc=0.5), rec(2, acc=0.7)])
    hist = frames.history_frame(lb)
    assert list(hist["trial"]) == [0, 1, 2]
    assert list(hist["best_by_trial"]) == [0.99, 0.99, 0.99]
    # In completion order trial 0 comes last, so the best so far grows 0.5, 0.7, 0.99.
    assert list(hist["best_by_time"]) == [0.99, 0.5, 0.7]


def test_params_and_curves_frames() -> None:
    params = frames.params_frame(RECORDS)
    assert list(params.columns) == ["trial", "val_accuracy", "lr", "width"]
    assert list(params["trial"]) == [0, 1, 2, 5]
    assert params["width"].isna().tolist() == [True, True, True, False]
    curved = rec(7, epochs=(EpochPoint(1, 2.0, 0.5, 1.0), EpochPoint(2, 1.0, 0.7, 1.0)))
    curves = frames.curves_frame([curved, RECORDS[0]])
    assert curves[["trial", "epoch", "val_accuracy"]].values.tolist() == [[7, 1, 0.5],
                                                                          [7, 2, 0.7]]
    assert frames.log_scaled(pd.Series([1e-4, 1e-2])) and not frames.log_scaled(
        pd.Series([1, 50]))


def test_studies_frame() -> None:
    summary = StudySummary("a", "pareto", "flops", ("maximize", "minimize"), 5,
                           {"COMPLETE": 3, "FAIL": 2}, 0.9, T0, T0)
    row = frames.studies_frame([summary]).iloc[0]
    assert (row["trials"], row["complete"], row["fail"], row["running"]) == (5, 3, 2, 0)


def test_specs_flatten_diff_costs_and_export() -> None:
    flat = specs.flatten(CNN)
    assert flat["stages[1].blocks[0].op"] == "mbconv" and flat["input_shape"] == "[1, 8, 8]"
    # A series' per-step affine (2 x L numbers) shows its start and its length, not a page.
    long = specs.flatten({"input_scale": [0.5 * i for i in range(1500)]})["input_scale"]
    assert long == "[0.0, 0.5, 1.0, … 1500 values]"
    table = specs.spec_table([RECORDS[0], RECORDS[1]])
    assert "arch.kind" in table.index and "hparams" not in table.index
    assert table.loc["arch.kind"].tolist() == ["mlp", "cnn2d"]
    assert "arch.num_classes" not in table.index  # equal in both
    assert "arch.num_classes" in specs.spec_table(RECORDS[:2], only_differences=False).index
    costs = specs.costs_table(RECORDS[:2])
    assert costs.loc["FLOPs per sample"].tolist() == [2e4, 9e5]
    assert specs.export_command("my study", 3, "sqlite:///a.db") == (
        "automl export 'my study' --trial 3 --out exports/my_study-trial-3 "
        "--storage sqlite:///a.db")
    secret = specs.export_command("s", 3, "postgresql://u:pw123@h/db")
    assert "pw123" not in secret and "--storage" not in secret and "AUTOML_STORAGE" in secret


def test_architecture_diagram_and_layers() -> None:
    dot = archviz.arch_dot(CNN)
    assert dot.startswith("digraph arch {") and dot.rstrip().endswith("}")
    assert "conv3 +res ×3" in dot and "mbconv e4 +res" in dot and "1×8×8" in dot
    assert dot.count("->") == dot.count("[label=") - 1  # a chain
    # The stride-2 transition has a box of its own, under the name the layer table uses.
    assert "stage 1 transition: conv k3, stride 2 → 16" in dot
    parts = {r["part"] for r in archviz.layer_rows(CNN, "block")[0]}
    assert parts == {"stem", "stage 0", "stage 1 transition", "stage 1", "head"}
    assert all(f'"{p}' in dot for p in parts)  # every part of the table labels a box
    mlp_dot = archviz.arch_dot(MLP)
    assert "hidden 0: Linear 32" in mlp_dot and "Linear → 10 classes" in mlp_dot
    rows, source = archviz.layer_rows(MLP)
    assert source == "computed from the spec" and rows[-1]["name"] == "head"
    assert rows[-1]["output_shape"] == "10"
    fallback, why = archviz.layer_rows({**MLP, "activation": "no-such-activation"})
    assert why.startswith("read from the spec") and fallback[0]["params"] == 64 * 32 + 32 + 64
    huge = {**CNN, "stages": [{"width": 8, "blocks": [{"op": op, "residual": True}]}
                              for op in ["conv3", "conv5"] * 40]}
    assert archviz.arch_dot(huge).count("[label=") == archviz.MAX_NODES


def test_a_rocket_diagram_names_its_transform_and_head() -> None:
    spec = {"kind": "rocket", "input_shape": [3, 40], "num_classes": 4, "dilations": [1, 2, 4],
            "per_dilation": [3, 2, 2], "norm": "batch", "dropout": 0.1}
    dot = archviz.arch_dot(spec)
    assert "MiniRocket: 84 kernels × 3 dilations (frozen)\\n588 PPV features" in dot
    assert "dropout 0.1" in dot and "head: Linear → 4 classes" in dot


SPECS = [
    MLP, CNN, {**MLP, "norm": "none", "activation": "gelu", "hidden": []},
    {**MLP, "members": 4}, {**MLP, "norm": "none", "members": 3},  # efficient ensembles
    {**CNN, "norm": "none", "kind": "cnn1d", "input_shape": [3, 17], "activation": "silu"},
    {**CNN, "input_shape": [9, 9], "activation": "hardswish", "stages": [
        {"width": 8, "blocks": [{"op": "dwsep", "expansion": 1, "residual": True},
                                {"op": "skip", "expansion": 1, "residual": False},
                                {"op": "mbconv", "expansion": 1, "residual": True},
                                {"op": "conv5", "expansion": 1, "residual": False}]},
        {"width": 12, "downsample": False, "blocks": []},
        {"width": 12, "downsample": True, "blocks": [{"op": "conv3", "expansion": 1,
                                                     "residual": True}]}]},
    {"kind": "rocket", "input_shape": [3, 40], "num_classes": 4, "dilations": [1, 2, 4],
     "per_dilation": [3, 2, 2], "norm": "batch", "dropout": 0.1},
    {"kind": "rocket", "input_shape": [24], "num_classes": 2, "dilations": [1],
     "per_dilation": [5], "norm": "none", "dropout": 0.0},
    # Coded tables: the encoder (its embeddings, or one weightless one-hot layer), then a body.
    *[{"kind": "table", "encoding": enc, "embed_dim": 4, "columns": [
        {"kind": "numeric", "levels": 0, "missing": True},
        {"kind": "categorical", "levels": 5, "missing": False},
        {"kind": "categorical", "levels": 2, "missing": False}],
       "body": {**body, "input_shape": [width]}}
      for enc, width in (("embed", 2 + 4 + 3), ("onehot", 2 + 6 + 3))
      for body in (MLP, {**CNN, "kind": "cnn1d", "input_shape": [9]})],
    # One-hot with a column of many levels: that one is embedded.
    {"kind": "table", "encoding": "onehot", "embed_dim": 8, "bins": 4, "columns": [
        {"kind": "numeric", "levels": 0, "missing": False},
        {"kind": "categorical", "levels": 70, "missing": False},
        {"kind": "categorical", "levels": 3, "missing": False}],
     "body": {**MLP, "input_shape": [4 + 8 + 4]}},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['kind']}-{len(str(s))}")
@pytest.mark.parametrize("level", ["layer", "block"])
def test_layer_table_matches_the_built_network(spec: dict[str, Any], level: str) -> None:
    """The torch-free table is row for row what search_spaces.describe finds in the real
    network (built on the meta device): names, types, shapes and parameter counts."""
    pytest.importorskip("torch")
    from dashboard.layers import layer_table
    from search_spaces import arch_from_dict, describe

    real = [{**r, "output_shape": "×".join(map(str, r["output_shape"]))}
            for r in describe(arch_from_dict(spec), level)]
    mine = [{k: v for k, v in r.items() if k != "part"} for r in layer_table(spec, level)]
    assert mine == real


def test_figures() -> None:
    lb = frames.leaderboard_frame(RECORDS)
    fig = figures.pareto_figure(frames.pareto_points(lb, "flops"), "flops", log_x=False)
    others, front = fig.data
    assert front.name == "Pareto front" and [int(c[0]) for c in front.customdata] == [5, 0, 1]
    assert fig.layout.xaxis.type == "linear"
    curved = [rec(n, epochs=(EpochPoint(1, 1.0, 0.5, 1.0),)) for n in (1, 2)]
    assert len(figures.curves_figure(frames.curves_frame(curved)).data) == 4
    bars = figures.importance_figure({"lr": 0.7, "width": 0.3}).data[0]
    assert list(bars.y) == ["width", "lr"]  # most important on top
    par = figures.parallel_figure(pd.DataFrame({
        "lr": [1e-4, 1e-1], "act": ["relu", "gelu"], "cb": [True, False],
        "val_accuracy": [0.5, 0.9]}), ["lr", "act", "cb"])
    dims = par.data[0].dimensions
    assert [d.label for d in dims] == ["log10 lr", "act", "cb", "val accuracy"]
    assert list(dims[2].ticktext) == ["False", "True"]


def test_storage_url_and_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import loaders, ui

    monkeypatch.setenv("AUTOML_STORAGE", "sqlite:///env.db")
    monkeypatch.setattr("sys.argv", ["app.py"])
    assert loaders.storage_url() == "sqlite:///env.db"
    monkeypatch.setattr("sys.argv", ["app.py", "--storage", "sqlite:///flag.db"])
    assert loaders.storage_url() == "sqlite:///flag.db"
    assert ui.refresh_every(running=True) == ui.LIVE_S
    assert ui.refresh_every(running=False) == ui.IDLE_S
    assert ui.refresh_every(running=True, live=False) is None
    monkeypatch.setitem(loaders._loads, ("study", "u", "s"), (0, 4.2))
    fresh = loaders.freshness("study", "u", "s")
    assert fresh == math.ceil(loaders.SLOW_FACTOR * 4.2)
    assert ui.refresh_every(running=True, fresh_s=fresh) == fresh  # never poll faster


def test_rerank_recomputes_rank_and_front_among_the_rows_given() -> None:
    lb = frames.leaderboard_frame(RECORDS, cost="flops")
    same = frames.rerank(lb, "flops")  # the whole study on its own cost: the CLI's ranking
    assert list(same["trial"]) == list(lb["trial"])
    assert same["rank"].astype(object).tolist() == lb["rank"].astype(object).tolist()
    mlp_only = frames.rerank(frames.filter_frame(lb, arch_spaces=["mlp"]), "flops")
    # Without trial 1 (the CNN), trials 0 and 5 still form the front; 2 stays behind 0.
    assert list(mlp_only["trial"]) == [0, 5, 2, 3, 4]
    assert mlp_only.set_index("trial")["pareto"].to_dict() == {
        0: True, 5: True, 2: False, 3: False, 4: False}
    points = frames.pareto_points(mlp_only, "flops", ranked=True)
    assert set(points.query("on_front")["trial"]) == set(mlp_only.query("pareto")["trial"])
    repeat = rec(6, acc=0.99, flops=1.0, duplicate_of=1, reason="duplicate of trial 1")
    with_repeat = frames.rerank(frames.leaderboard_frame([*RECORDS, repeat]), "flops")
    assert with_repeat.set_index("trial").loc[6, "rank"] is pd.NA  # repeats are not ranked


# Ties (1, 4, 9 on every cost), NaN accuracy (0), missing and NaN costs (2, 3, 6), a repeat
# (5), unfinished trials (7, 8), a dominated trial (10), given out of trial-number order.
TRICKY = [
    rec(4, acc=0.9, flops=1e4, latency_ms=0.2), rec(10, acc=0.85, flops=2e4, latency_ms=0.6),
    rec(1, acc=0.9, flops=1e4, latency_ms=0.2), rec(3, acc=0.95, flops=None, latency_ms=0.3),
    rec(0, acc=float("nan"), flops=1e3), rec(6, acc=0.97, flops=float("nan"), latency_ms=0.5),
    rec(2, acc=0.8, flops=1e3, latency_ms=None), rec(8, state="RUNNING", acc=None, flops=None),
    rec(5, acc=0.99, flops=1.0, duplicate_of=1, reason="duplicate of trial 1"),
    rec(7, state="PRUNED"), rec(9, acc=0.9, flops=1e4, latency_ms=0.2),
]
# Worked out by hand: (trial, rank) in order; rank 0 is the front, None unranked.
TRICKY_ORDER = {
    "flops": [(1, 0), (4, 0), (9, 0), (2, 0), (10, 1), (0, None), (3, None), (6, None),
              (5, None), (7, None), (8, None)],
    "latency_ms": [(6, 0), (3, 0), (1, 0), (4, 0), (9, 0), (10, 1), (0, None), (2, None),
                   (5, None), (7, None), (8, None)],
}


@pytest.mark.parametrize("cost", sorted(TRICKY_ORDER))
def test_the_dashboard_and_the_cli_order_a_leaderboard_alike(cost: str) -> None:
    from automl.policy.ranking import leaderboard_rows

    cli = [(r["trial"], r["rank"], r["pareto"]) for r in leaderboard_rows(TRICKY, cost)]
    # The dashboard's path: a table loaded on another cost, shuffled, then ranked on this one.
    table = frames.leaderboard_frame(TRICKY, cost="params").sample(frac=1, random_state=3)
    shown = frames.rerank(table, cost)
    dash = [(int(t), None if pd.isna(k) else int(k), bool(p))
            for t, k, p in zip(shown["trial"], shown["rank"], shown["pareto"], strict=True)]
    expected = [(t, k, k == 0) for t, k in TRICKY_ORDER[cost]]
    assert cli == expected
    assert dash == expected
