"""The benchmark suite's loaders, the hypervolume helpers, and one tiny search-efficiency run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from automl.policy.front import hypervolume_2d, pareto_front
from benchmarks.hypervolume import (
    UNIT_REF,
    best_by_validation,
    cheapest_matching,
    cost_bounds,
    hv_curve,
    summarize_set,
)
from benchmarks.suite import KINDS, MAIN, QUICK, SUITE

ROOT = Path(__file__).resolve().parents[2]
SKLEARN_SETS = {"digits": (1, 8, 8), "digits_flat": (64,), "breast_cancer": (30,), "wine": (13,)}
# Official UCR/UEA splits: (train, test) sizes, sample shape, classes.
AEON_SETS = {
    "gunpoint": (50, 150, (150,), 2),
    "italy_power": (67, 1029, (24,), 2),
    "basic_motions": (40, 40, (6, 100), 4),
    "arrow_head": (36, 175, (251,), 3),
    "osu_leaf": (200, 242, (427,), 6),
    "japanese_vowels": (270, 370, (12, 25), 9),
    "gunpoint_alt": (50, 150, (150,), 2),
    "pickup_gesture": (50, 50, (361,), 10),
}


def _check_arrays(name: str) -> tuple[np.ndarray, ...]:
    x, y, x_test, y_test = SUITE[name].load()
    assert x.dtype == x_test.dtype == np.float32
    assert y.dtype == y_test.dtype == np.int64
    assert len(x) == len(y) and len(x_test) == len(y_test)
    assert x.shape[1:] == x_test.shape[1:]
    k = len(np.unique(y))
    assert set(np.unique(y).tolist()) == set(range(k)), "labels are indices 0..k-1"
    assert set(np.unique(y_test).tolist()) <= set(range(k))
    assert np.isfinite(x).all() and np.isfinite(x_test).all()
    return x, y, x_test, y_test


@pytest.mark.parametrize("name", sorted(SKLEARN_SETS))
def test_sklearn_loaders_split_75_25_stratified_and_fixed(name: str) -> None:
    x, y, x_test, y_test = _check_arrays(name)
    assert x.shape[1:] == SKLEARN_SETS[name]
    assert abs(len(x_test) / (len(x) + len(x_test)) - 0.25) < 0.01
    # Stratified: every class keeps about its share in both parts.
    share = np.bincount(y) / len(y) - np.bincount(y_test, minlength=y.max() + 1) / len(y_test)
    assert np.abs(share).max() < 0.03
    again = SUITE[name].load()
    assert np.array_equal(again[0], x) and np.array_equal(again[3], y_test)


def test_digits_flat_is_digits_flattened() -> None:
    img, flat = SUITE["digits"].load(), SUITE["digits_flat"].load()
    assert np.array_equal(img[0].reshape(len(img[0]), -1), flat[0])
    assert np.array_equal(img[1], flat[1])


@pytest.mark.parametrize("name", sorted(AEON_SETS))
def test_aeon_loaders_keep_the_official_split(
    name: str, offline: None
) -> None:
    pytest.importorskip("aeon")

    n_train, n_test, shape, classes = AEON_SETS[name]
    x, y, x_test, y_test = _check_arrays(name)
    assert (len(x), len(x_test), x.shape[1:]) == (n_train, n_test, shape)
    assert len(np.unique(y)) == len(np.unique(y_test)) == classes


def test_the_alternating_set_is_gunpoint_riding_a_carrier() -> None:
    pytest.importorskip("aeon")
    from search_spaces.base import lag1_autocorrelation

    plain, alt = SUITE["gunpoint"].load(), SUITE["gunpoint_alt"].load()
    assert np.array_equal(np.abs(alt[0]), np.abs(plain[0]))
    assert np.array_equal(alt[0][:, 1::2], -plain[0][:, 1::2]) and np.array_equal(alt[1], plain[1])
    # What fooled the old rule: a signal whose lag-1 autocorrelation is strongly negative.
    assert lag1_autocorrelation(plain[0]) > 0.9 and lag1_autocorrelation(alt[0]) < -0.5


def test_aeon_loader_without_aeon_says_make_bench_deps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aeon", None)  # makes `import aeon` raise ImportError
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ImportError, match="make bench-deps"):
        SUITE["gunpoint"].load()


def test_suite_entries_are_complete() -> None:
    assert set(QUICK) <= set(SUITE) and len(QUICK) == 3
    assert set(SKLEARN_SETS) | set(AEON_SETS) <= set(SUITE)
    for ds in SUITE.values():
        assert ds.kind in KINDS and ds.budget_s > 0
    assert SUITE["gunpoint"].reference == {"MLP": 92.7, "FCN": 100.0, "ResNet": 99.1}
    assert SUITE["italy_power"].reference["ResNet"] == 96.3
    # A full run covers the sets the defaults were judged on; the held-out ones only on demand.
    assert set(MAIN) == {"digits", "digits_flat", "breast_cancer", "wine", "gunpoint",
                         "italy_power", "basic_motions", "gunpoint_alt", "pickup_gesture",
                         "pulses52", "tissue_genes", "olive_oil", "glass"}
    assert all(SUITE[n].heldout for n in set(SUITE) - set(MAIN))


def test_pulses52_is_long_few_per_class_and_the_same_every_time() -> None:
    x, y, x_test, y_test = SUITE["pulses52"].load()
    assert x.shape == (104, 2000) and x_test.shape == (208, 2000) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [2] * 52 and np.bincount(y_test).tolist() == [4] * 52
    again = SUITE["pulses52"].load()  # from a fixed seed: nothing random between calls
    assert all(np.array_equal(a, b) for a, b in zip((x, y, x_test, y_test), again, strict=True))


def test_hypervolume_of_hand_built_fronts() -> None:
    # The shared arithmetic on the benchmark's scaled axes: accuracy 0 to 1, cost 0 to 1.
    assert UNIT_REF == (0.0, 1.0)
    assert hypervolume_2d([], UNIT_REF) == 0.0
    assert hypervolume_2d([(0.5, 0.5)], UNIT_REF) == pytest.approx(0.25)
    front = [(0.5, 0.2), (0.8, 0.6)]
    # Strips: 0.5 high from cost 0.2 to 1, then 0.3 more from cost 0.6 to 1.
    assert hypervolume_2d(front, UNIT_REF) == pytest.approx(0.8 * 0.5 + 0.4 * 0.3)
    assert hypervolume_2d(front[::-1], UNIT_REF) == pytest.approx(0.52)
    dominated = [(0.4, 0.5), (0.8, 0.7), (0.5, 0.2)]
    assert hypervolume_2d(front + dominated, UNIT_REF) == pytest.approx(0.52)
    # Points at or beyond the reference add nothing.
    outside = [(0.0, 0.1), (0.99, 1.0), (1.0, 1.5)]
    assert hypervolume_2d(front + outside, UNIT_REF) == pytest.approx(0.52)
    assert hypervolume_2d([(1.0, 0.0)], UNIT_REF) == pytest.approx(1.0)
    assert hypervolume_2d([(0.5, 0.5)], ref=(0.25, 0.75)) == pytest.approx(0.0625)


def test_pareto_front_drops_dominated_points_only() -> None:
    pts = [(0.9, 10.0), (0.9, 5.0), (0.8, 1.0), (0.7, 2.0), (0.95, 100.0), (0.8, 1.0)]
    assert pareto_front(pts) == [1, 2, 4, 5]  # equal points do not dominate each other


def _trial(t: float, acc: float, flops: float, test: float = 0.5, **kw: object) -> dict:
    return {"state": "COMPLETE", "t": t, "val_accuracy": acc, "val_loss": 1.0,
            "test_accuracy": test, "flops": flops, **kw}


def test_best_by_validation_breaks_ties_and_prefers_cv() -> None:
    trials = [_trial(1, 0.9, 100, val_loss=0.5), _trial(2, 0.9, 50, val_loss=0.5),
              _trial(3, 0.9, 10, val_loss=0.7), {"state": "PRUNED", "val_accuracy": 1.0,
                                                 "flops": 1, "t": 4}]
    assert best_by_validation(trials)["flops"] == 50
    with_cv = trials + [_trial(5, 0.5, 7, cv_accuracy=0.8), _trial(6, 0.6, 8, cv_accuracy=0.7)]
    assert best_by_validation(with_cv)["flops"] == 7
    assert best_by_validation([]) is None


def test_cheapest_matching_and_curve() -> None:
    front = [_trial(1, 0.9, 1000, test=0.95), _trial(2, 0.8, 10, test=0.899),
             _trial(3, 0.85, 100, test=0.93)]
    assert cheapest_matching(front, 0.93)["flops"] == 100
    assert cheapest_matching(front, 0.901)["flops"] == 10  # within 0.2 points
    assert cheapest_matching(front, 0.99) is None
    bounds = cost_bounds([10, 1000])
    curve = hv_curve(front + [{"state": "FAIL", "t": 0.5}], bounds)
    assert [t for t, _ in curve] == [0.0, 1, 2, 3]
    # log10 FLOPs 1..3 padded by 0.1 each side: 10, 100, 1000 sit at 1/22, 11/22, 21/22.
    # By hand: 0.9 from 21/22 to 1; then 0.8 from 1/22 plus 0.1 more from 21/22; then 0.85
    # from 11/22 on: 0.8*10/22 + 0.85*10/22 + 0.9/22.
    hv = [0.0, 0.9 / 22, (0.8 * 21 + 0.1) / 22, (8.0 + 8.5 + 0.9) / 22]
    assert [v for _, v in curve] == pytest.approx(hv)
    assert all(b[1] >= a[1] for a, b in zip(curve, curve[1:], strict=False))


def test_summarize_set_compares_automl_with_the_loop() -> None:
    loop = [_trial(2, 0.9, 1000, test=0.9), _trial(4, 0.8, 100, test=0.8)]
    automl = [_trial(1, 0.3, 10, test=0.7), _trial(3, 0.95, 100, test=0.9)]
    runs = [{"method": "loop", "seed": 0, "wall_s": 11.0, "trials": loop},
            {"method": "automl", "seed": 0, "wall_s": 12.0, "trials": automl,
             "error": "boom"}]
    s = summarize_set(runs, budget=10.0)
    assert s["methods"]["loop"]["test_accuracy_mean"] == pytest.approx(0.9)
    assert s["methods"]["automl"]["overrun_s_mean"] == pytest.approx(2.0)
    assert s["methods"]["automl"]["errors"] == ["boom"]
    vs = s["vs_loop"]["automl"]["per_seed"][0]
    assert vs["flops_ratio"] == pytest.approx(0.1)  # 100 FLOPs match the loop's 1000
    # Its first, cheap but weak trial covers less than the loop's front; with the second it
    # covers more: reached at 3 s of T = 10 s.
    assert vs["t_reach_frac"] == pytest.approx(0.3)


@pytest.mark.slow
def test_search_efficiency_smoke_run_writes_summary(tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "benchmarks" / "search_efficiency.py"), "--sets", "wine",
            "--seeds", "1", "--budget-scale", "0.05", "--out", str(tmp_path / "out"),
            "--plots", str(tmp_path / "plots")]
    proc = subprocess.run([*args, "--methods", "loop,automl,hgb,minirocket"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {"machine", "seeds", "methods", "budget_scale", "sets"} <= set(summary)
    wine = summary["sets"]["wine"]
    assert wine["budget_s"] == pytest.approx(3.0) and wine["kind"] == "tabular"
    assert set(wine["methods"]) == {"loop", "automl", "hgb"}  # MiniRocket reads sequences only
    assert "fit_predict_s_mean" in wine["methods"]["hgb"]
    assert summary["goals"]["per_set"]["wine"]["specialist"] == "hgb"
    loop = wine["methods"]["loop"]
    # Above what always answering wine's most common test class scores (computed here, from
    # the same split): a trained net on standardized wine is far above it.
    y_test = SUITE["wine"].load()[3]
    majority = np.bincount(y_test).max() / len(y_test)
    assert loop["complete_mean"] >= 1 and majority + 0.1 < loop["test_accuracy_mean"] <= 1
    assert {"flops_ratio", "t_reach_frac"} <= set(wine["vs_loop"]["automl"]["per_seed"][0])
    plot = tmp_path / "plots" / "search_efficiency_wine.png"
    if importlib.util.find_spec("matplotlib") is not None:  # the bench extra draws the plots
        assert plot.stat().st_size > 0
    else:
        assert not plot.exists() and "matplotlib missing" in proc.stdout
    assert "| wine | 3 |" in proc.stdout
    # Resumable: the saved (set, seed, method) result is reused, not run again.
    again = subprocess.run([*args, "--methods", "loop"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert "wine seed 0 loop:" in proc.stdout and "wine seed 0 loop:" not in again.stdout
