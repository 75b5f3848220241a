"""Smoke runs of ``benchmarks/startup.py`` (issue 24), ``benchmarks/ridge_start.py`` and
``benchmarks/signal_scaling.py`` (issue 21): they run and write what RESULTS.md quotes, with sane
values (no figures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_run import ok_json, run_script


def test_startup_times_the_phases_of_one_search(tmp_path: Path) -> None:
    # --repeats 0: the phase breakdown alone (the side-by-side timings are the same processes
    # without the timers: `automl search` and two `python -c` lines).
    out = tmp_path / "startup.json"
    result = ok_json(run_script("startup.py", "--repeats", "0", "--json", str(out)), out)
    assert result["median_s"] == {} and "search_minus_imports_s" not in result
    phases = dict(result["phases_s"])
    # The phases the breakdown promises, each timed once the search reached it.
    for step in ("import torch._dynamo", "data.load_data", "run.open_for",
                 "objective.Objective._train", "controller.run_search", "total"):
        assert step in phases and phases[step] >= 0, step
    train = phases["objective.Objective._train"]
    assert phases["total"] >= phases["controller.run_search"] > train


def test_ridge_start_compares_both_rules_on_one_set(tmp_path: Path) -> None:
    out = tmp_path / "ridge.json"
    result = ok_json(run_script("ridge_start.py", "--sets", "wine", "--seeds", "1",
                                "--epochs", "1", "--json", str(out)), out)
    (run,) = result["runs"]
    for rule in ("trained_only", "start_competes"):
        assert 0.0 <= run[rule]["test"] <= 1.0 and run[rule]["seconds"] > 0
    assert run["trained_only"]["best_epoch"] >= 1  # the old rule never keeps the start
    # The new rule keeps the start exactly when no trained epoch beat it on validation.
    assert run["start_competes"]["val"] >= run["trained_only"]["val"]
    assert result["summary"]["wine"]["epoch0_kept"] in (0, 1)


def test_signal_scaling_scores_the_ridge_start_three_ways(tmp_path: Path) -> None:
    pytest.importorskip("aeon")  # GunPoint ships inside aeon
    out = tmp_path / "scaling.json"
    result = ok_json(run_script("signal_scaling.py", "--sets", "gunpoint", "--seeds", "1",
                                "--features", "840", "--json", str(out)), out)
    (run,) = result["runs"]
    # Two classes: each scaling still gives a working ridge head (a scaling that broke the
    # input, NaNs or a constant, would predict one class: 0.5).
    for how in ("as_shipped", "per_step", "whole_series"):
        assert 0.75 <= run[how] <= 1.0, (how, run)


def test_refit_start_refits_a_stored_rocket_both_ways(tmp_path: Path) -> None:
    import json

    import numpy as np
    from cli_kit import run_here
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(tmp_path / "d.npz", x=d.data[:300].astype(np.float32), y=d.target[:300])
    db = tmp_path / "s.db"
    cmd = ["search", "--data", str(tmp_path / "d.npz"), "--study", "w", "--storage", f"sqlite:///{db}",
           "--seed", "0", "--trials", "2", "--epochs", "2", "--quiet", "--set",
           "search.arch=rocket", "--set", "trainer.num_threads=1", "--set",
           "trainer.latency_repeats=1"]
    run_here(*cmd, cwd=tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "w.json").write_text(json.dumps({"cmd": cmd}))
    out = tmp_path / "refit.json"
    result = ok_json(run_script("refit_start.py", "--runs", str(tmp_path), "--json",
                                str(out)), out)
    (row,) = result["rows"]
    assert row["study"] == "w" and 0.0 <= row["best"] <= 1.0 and 0.0 <= row["now"] <= 1.0
    assert result["refit"] == 1 and result["start_kept"] == int(row["best_epoch"] == 0)
    assert result["different"] == int(row["now"] != row["best"])
