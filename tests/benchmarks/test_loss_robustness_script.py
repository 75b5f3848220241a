"""``benchmarks/loss_robustness.py`` (issue 22): the label-noise and long-tail variants, the
paired report, and one smoke run of the script (one tiny search, then a rerun that skips it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from script_run import run_script

from benchmarks.label_variants import (
    MIN_PER_CLASS,
    balanced_indices,
    long_tail_counts,
    long_tail_indices,
    make_variant,
    pair_noise,
    symmetric_noise,
    variant_seed,
    write_variant_npz,
)
from benchmarks.loss_report import summarize


def _labels(n: int = 5000, classes: int = 5) -> np.ndarray:
    return np.random.default_rng(1).integers(0, classes, n)


@pytest.mark.parametrize("p", [0.2, 0.4])
def test_symmetric_noise_flips_at_the_rate_and_never_to_the_same_class(p: float) -> None:
    y = _labels()
    noisy = symmetric_noise(y, p, 5, np.random.default_rng(0))
    flipped = noisy != y
    assert abs(flipped.mean() - p) < 0.01
    # The new classes spread over the other four, about evenly.
    shifts = np.bincount(((noisy - y) % 5)[flipped], minlength=5)
    assert shifts[0] == 0 and shifts[1:].min() > 0.8 * shifts[1:].mean()
    assert noisy.min() >= 0 and noisy.max() < 5


def test_binary_symmetric_noise_is_a_flip() -> None:
    y = _labels(classes=2)
    noisy = symmetric_noise(y, 0.4, 2, np.random.default_rng(0))
    assert np.array_equal(noisy[noisy != y], 1 - y[noisy != y])


def test_pair_noise_moves_a_label_to_the_next_class() -> None:
    y = _labels()
    noisy = pair_noise(y, 0.4, 5, np.random.default_rng(0))
    flipped = noisy != y
    assert abs(flipped.mean() - 0.4) < 0.01
    assert np.array_equal(noisy[flipped], (y[flipped] + 1) % 5)  # 4 -> 0 included
    assert (y[flipped] == 4).any()


def test_long_tail_counts_follow_the_profile() -> None:
    counts = [140, 133, 150, 137, 131]
    # n_max = 131 (the smallest class); class k keeps 131 * 100^(-k/4), at least 1.
    assert long_tail_counts(counts, 100, floor=1) == [131, 41, 13, 4, 1]
    assert long_tail_counts(counts, 10, floor=1) == [131, 73, 41, 23, 13]
    # The script's floor: 1 (automl keeps a class of one sample in training).
    assert MIN_PER_CLASS == 1 and long_tail_counts(counts, 100) == [131, 41, 13, 4, 1]
    assert long_tail_counts(counts, 100, floor=2) == [131, 41, 13, 4, 2]
    assert long_tail_counts([3, 1], 100, floor=2) == [2, 1]  # never more than a class has


def test_long_tail_indices_and_balanced_test() -> None:
    y = np.repeat(np.arange(5), [140, 133, 150, 137, 131])
    keep = long_tail_indices(y, 50, np.random.default_rng(0))
    assert np.all(np.diff(keep) > 0)  # sorted, no repeats
    assert np.bincount(y[keep]).tolist() == long_tail_counts(np.bincount(y).tolist(), 50)
    test = balanced_indices(y, np.random.default_rng(0))
    assert np.bincount(y[test]).tolist() == [131] * 5


def test_variants_change_only_the_training_part() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 3)).astype(np.float32), np.repeat(np.arange(3), 200)
    x_test, y_test = rng.normal(size=(90, 3)).astype(np.float32), np.repeat(np.arange(3),
                                                                            [40, 30, 20])
    arrays = (x, y, x_test, y_test)
    _, y_n, xt_n, yt_n = make_variant(arrays, "sym40", np.random.default_rng(0))
    assert xt_n is x_test and yt_n is y_test and (y_n != y).mean() == pytest.approx(0.4)
    x_lt, y_lt, xt_lt, yt_lt = make_variant(arrays, "lt10", np.random.default_rng(0))
    assert np.bincount(y_lt).tolist() == [200, 63, 20] and len(x_lt) == len(y_lt)
    assert np.bincount(yt_lt).tolist() == [20, 20, 20] and len(xt_lt) == 60
    assert make_variant(arrays, "clean", np.random.default_rng(0)) is arrays


def test_a_variant_file_depends_on_set_and_variant_only(tmp_path: Path) -> None:
    # Its seed is of (set, variant): the same in every process, whatever the method or seed.
    assert variant_seed("wine", "sym40") == variant_seed("wine", "sym40")
    assert len({variant_seed("wine", v) for v in ("sym20", "sym40", "lt50")}) == 3
    assert variant_seed("wine", "sym40") != variant_seed("digits", "sym40")
    a = write_variant_npz("wine", "sym40", tmp_path / "a")
    b = write_variant_npz("wine", "sym40", tmp_path / "b")
    with np.load(a) as fa, np.load(b) as fb:
        assert np.array_equal(fa["y"], fb["y"]) and np.array_equal(fa["y_test"], fb["y_test"])
    assert write_variant_npz("wine", "sym40", tmp_path / "a") == a  # written once, reused


def _run(acc: float | None, error: str | None = None) -> dict:
    trials = [] if acc is None else [{"number": 0, "state": "COMPLETE", "chosen": True,
                                      "test_accuracy": acc, "loss_family": "ce"}]
    return {"trials": trials, **({"error": error} if error else {})}


def test_summary_pairs_seeds_and_leaves_missing_runs_missing() -> None:
    runs = {("s1", "sym40", 0, "joint"): _run(0.90), ("s1", "sym40", 0, "fixed_ce"): _run(0.80),
            ("s1", "sym40", 1, "joint"): _run(0.70),  # no fixed_ce on seed 1: not paired
            ("s2", "sym40", 0, "joint"): _run(None, "boom"),
            ("s2", "sym40", 0, "fixed_ce"): _run(0.50)}
    s = summarize(runs, ["s1", "s2"], ["sym40", "clean"], ["joint", "fixed_ce"], [0, 1])
    cell = s["cells"]["s1"]["sym40"]
    assert cell["methods"]["joint"]["mean"] == pytest.approx(0.80)
    assert cell["vs_fixed_ce"]["joint"]["mean"] == pytest.approx(10.0)
    assert cell["vs_fixed_ce"]["joint"]["n"] == 1
    s2 = s["cells"]["s2"]["sym40"]
    assert s2["methods"]["joint"]["mean"] is None and s2["methods"]["joint"]["errors"]
    assert s["groups"]["sym40"]["joint"] == {"per_set": {"s1": pytest.approx(10.0), "s2": None},
                                              "mean": pytest.approx(10.0), "sets": 1, "of": 2}
    goals = s["goals"]
    assert goals["joint_vs_fixed_ce_sym40"]["met"] is True
    assert goals["joint_vs_fixed_ce_clean"]["met"] is None  # nothing run: missing, not 0
    assert goals["joint_vs_fixed_ce_lt50"]["of"] == 0
    assert goals["symbolic_vs_best_family"]["met"] is None


def test_symbolic_is_judged_against_the_best_family_on_shared_cells() -> None:
    runs = {("s", "sym40", 0, "symbolic"): _run(0.80), ("s", "sym40", 0, "only_gce"): _run(0.85),
            ("s", "sym40", 0, "only_sce"): _run(0.805), ("s", "lt50", 0, "symbolic"): _run(0.1),
            ("s", "clean", 0, "symbolic"): _run(0.1), ("s", "clean", 0, "only_gce"): _run(0.9)}
    s = summarize(runs, ["s"], ["clean", "sym40", "lt50"], ["symbolic", "only_gce", "only_sce"],
                  [0])
    g = s["goals"]["symbolic_vs_best_family"]
    # lt50 has no family figure and clean is not a noisy or long-tailed variant: sym40 alone.
    assert (g["cells"], g["of"], g["best_family"]) == (1, 2, "only_gce")
    assert g["value_points"] == pytest.approx(-5.0) and g["met"] is False


@pytest.mark.slow
def test_smoke_run_writes_a_result_and_a_report_and_reuses_it(tmp_path: Path) -> None:
    # wine, 9 s (T 60 s x 0.15): the search's start-up and one or two trials.
    args = ("--sets", "wine", "--variants", "sym40", "--methods", "fixed_ce", "--seeds", "1",
            "--budget-scale", "0.15", "--out", str(tmp_path))
    proc = run_script("loss_robustness.py", *args, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((tmp_path / "runs" / "wine__sym40__seed0__fixed_ce.json").read_text())
    assert (run["set"], run["variant"], run["seed"], run["method"]) == ("wine", "sym40", 0,
                                                                        "fixed_ce")
    assert run["budget_s"] == pytest.approx(9.0) and run["returncode"] == 0
    assert 'search.loss="fixed_ce"' in run["cmd"]
    assert str(tmp_path / "data" / "wine__sym40.npz") in run["cmd"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["methods"] == ["fixed_ce"] and summary["budgets_s"] == {"wine": 9.0}
    assert summary["data"]["wine/sym40"]["noise_rate"] == pytest.approx(0.4, abs=0.01)
    cell = summary["cells"]["wine"]["sym40"]["methods"]["fixed_ce"]
    assert cell["n"] in (0, 1)  # a loaded machine may finish no trial in 9 s: then missing
    assert "| wine | sym40 | 9 |" in proc.stdout and "### Goals (issue 22)" in proc.stdout
    assert "wine sym40 seed 0 fixed_ce:" in proc.stdout
    # A rerun reuses the saved result instead of searching again.
    again = run_script("loss_robustness.py", *args, timeout=60)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "wine sym40 seed 0 fixed_ce:" not in again.stdout and "0 to run" in again.stdout


def test_long_tail_variants_search_with_the_long_tail_metric(tmp_path: Path) -> None:
    from benchmarks.loss_robustness import load_run, metric_for

    assert metric_for("lt50", "balanced_accuracy") == "balanced_accuracy"
    assert metric_for("sym40", "balanced_accuracy") == "accuracy"
    assert metric_for("clean", "macro_f1") == "accuracy"
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"budget_s": 30.0, "metric": "balanced_accuracy"}))
    assert load_run(path, 30.0, "balanced_accuracy") is not None
    assert load_run(path, 30.0, "accuracy") is None  # another metric: run again
    path.write_text(json.dumps({"budget_s": 30.0}))  # saved before the metric was recorded
    assert load_run(path, 30.0) is not None
