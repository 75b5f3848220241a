"""Tables as people have them (issue 23): string, boolean, integer-coded and missing values read
by one reader, split with the levels of the training rows only, and encoded inside the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from table_kit import churn_like, write

from automl.data import load_data, load_source
from automl.data.table import TableOptions, needs_encoder, read_table
from automl.errors import DataError


def test_column_kinds_follow_the_values_and_the_options(tmp_path: Path) -> None:
    frame = churn_like()
    path = write(tmp_path, frame)
    t = read_table(path)
    kinds = {c["name"]: c["kind"] for c in t.columns}
    assert t.label == "churn" and needs_encoder(t.columns, t.x)
    assert kinds == {"rowid": "numeric", "state": "categorical", "area_code": "numeric",
                     "international_plan": "categorical", "total_minutes": "numeric",
                     "service_calls": "numeric", "vip": "categorical"}
    levels = {c["name"]: c["levels"] for c in t.columns}
    assert levels["state"] == sorted(set(frame["state"].dropna()))
    assert levels["vip"] == ["False", "True"]
    # Codes are indices into the sorted levels; a missing value is NaN.
    j = [c["name"] for c in t.columns].index("state")
    want = [np.nan if pd.isna(s) else levels["state"].index(s) for s in frame["state"]]
    np.testing.assert_array_equal(t.x[:, j], np.asarray(want, dtype=np.float32))
    assert t.labels == frame["churn"].tolist()

    named = read_table(path, TableOptions(label="international_plan", categorical=("area_code",),
                                          ignore=("rowid",)))
    by = {c["name"]: c for c in named.columns}
    assert named.label == "international_plan" and "rowid" not in by
    assert by["area_code"]["kind"] == "categorical"
    assert by["area_code"]["levels"] == ["408", "415", "510"]
    assert by["churn"]["levels"] == ["no", "yes"]  # the old label is a feature now


def test_parquet_reads_as_the_csv_does(tmp_path: Path) -> None:
    frame = churn_like(80)
    a, b = read_table(write(tmp_path, frame)), read_table(write(tmp_path, frame, "t.parquet"))
    np.testing.assert_array_equal(a.x, b.x)
    assert a.columns == b.columns and a.labels == b.labels


def test_free_text_is_refused_unless_named(tmp_path: Path) -> None:
    frame = churn_like(120)
    frame.insert(0, "note", [f"called about bill {i}" for i in range(len(frame))])
    path = write(tmp_path, frame)
    with pytest.raises(DataError, match=r"column 'note' looks like free text \(120 distinct "
                                        r"values in 120 rows\); name it in data.categorical"):
        read_table(path)
    assert "note" not in {c["name"] for c in read_table(path, TableOptions(
        ignore=("note",))).columns}
    as_levels = read_table(path, TableOptions(categorical=("note",))).columns[0]
    assert as_levels["kind"] == "categorical" and len(as_levels["levels"]) == 120


@pytest.mark.parametrize(("options", "message"), [
    (TableOptions(categorical=("nope",)), r"data.categorical: no column 'nope' in .*t.csv"),
    (TableOptions(ignore=("nope",)), r"data.ignore: no column 'nope'"),
    (TableOptions(label="nope"), r"data.label: no column 'nope'"),
    (TableOptions(ignore=("churn",)), r"data.label: column 'churn' is the label"),
    (TableOptions(categorical=("state",), ignore=("state",)),
     r"data.categorical: column 'state' is also in data.ignore"),
])
def test_options_naming_absent_columns_are_one_line_errors(
        tmp_path: Path, options: TableOptions, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_table(write(tmp_path, churn_like(40)), options)


@pytest.mark.parametrize("header", ["a,label,label", "a,a,label", " a,a ,label"])
def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path, header: str) -> None:
    """pandas renames the second ("label.1"): read as is, a second label column would be
    trained on as a feature."""
    path = tmp_path / "d.csv"
    path.write_text(header + "\n" + "".join(f"{i},{i % 2},{i % 3}\n" for i in range(30)))
    with pytest.raises(DataError, match=r"d.csv: column '(a|label)' appears twice"):
        read_table(path)


@pytest.mark.parametrize("header", ["a,b,label,,", ",,a,label", ",,"])
def test_blank_header_cells_are_unnamed_columns_not_repeats(tmp_path: Path, header: str) -> None:
    """A spreadsheet's trailing empty columns, or an index saved without a name."""
    from automl.data.table import read_frame

    path = tmp_path / "e.csv"
    width = header.count(",") + 1
    path.write_text(header + "\n" + "".join(",".join([str(i)] * width) + "\n"
                                            for i in range(30)))
    assert len(read_frame(path).columns) == width


def test_a_missing_label_names_its_line(tmp_path: Path) -> None:
    frame = churn_like(40)
    frame.loc[4, "churn"] = None
    with pytest.raises(DataError, match=r"t.csv:6: missing label in column 'churn'"):
        load_source(str(write(tmp_path, frame)))


def test_numbers_only_tables_keep_the_plain_path_and_their_schema(tmp_path: Path) -> None:
    """No text, nothing missing: the network reads the numbers as before (no encoder), and the
    schema rides along for prediction by column name."""
    frame = churn_like(60)[["rowid", "total_minutes", "service_calls", "churn"]].dropna()
    path = write(tmp_path, frame)
    raw = load_source(str(path))
    assert raw.x.shape == (len(frame), 3) and raw.label == "churn"
    assert [c["kind"] for c in raw.columns or []] == ["numeric"] * 3
    data = load_data(str(path), 0.2, 0.2, seed=0)
    assert data.columns is None and data.column_specs() is None
    assert [c["name"] for c in data.preprocessing["table"]["columns"]] == [
        "rowid", "total_minutes", "service_calls"]
    x = data.splits.x_train * np.asarray(data.preprocessing["std"]) + np.asarray(
        data.preprocessing["mean"])
    np.testing.assert_allclose(np.asarray(data.preprocessing["mean"]), x.mean(axis=0),
                               rtol=1e-5, atol=1e-4)


def test_the_split_keeps_the_training_levels_and_standardizes_present_values(
        tmp_path: Path) -> None:
    frame = churn_like(300)
    frame.loc[7, "state"] = "PR"  # one row: in training or not, the split decides
    data = load_data(str(write(tmp_path, frame)), 0.2, 0.2, seed=3)
    names = [c["name"] for c in data.columns]
    pre = data.preprocessing
    assert pre["table"]["label"] == "churn" and pre["table"]["columns"] == data.columns
    ids = {}
    for part in ("train", "val", "test"):  # the row behind each split row, from its rowid
        x = getattr(data.splits, f"x_{part}")
        rowid = x[:, 0] * pre["std"][0] + pre["mean"][0]
        ids[part] = np.rint(rowid).astype(int)
        assert np.abs(rowid - ids[part]).max() < 1e-2
    train = frame.iloc[ids["train"]]
    s, m = names.index("state"), names.index("total_minutes")
    levels = data.columns[s]["levels"]
    assert levels == sorted(set(train["state"].dropna()))
    present = train["total_minutes"].dropna().to_numpy()
    assert pre["mean"][m] == pytest.approx(present.mean(), rel=1e-5)
    assert pre["std"][m] == pytest.approx(present.std(), rel=1e-4)
    for part in ("train", "val", "test"):
        x, rows = getattr(data.splits, f"x_{part}"), frame.iloc[ids[part]]
        for code, value in zip(x[:, s], rows["state"], strict=True):
            if pd.isna(value):
                assert np.isnan(code)
            else:
                assert code == (levels.index(value) if value in levels else -1)
        np.testing.assert_array_equal(np.isnan(x[:, m]), rows["total_minutes"].isna())
    specs = data.column_specs()
    assert specs is not None and specs[s].levels == len(levels) and specs[m].missing
    assert not specs[names.index("service_calls")].missing


def test_text_is_kept_as_written_for_codes_and_labels(tmp_path: Path) -> None:
    """Every CSV cell is read as text first: a zip code named categorical keeps its leading
    zero, and labels "01" and "1" stay two classes."""
    path = tmp_path / "z.csv"
    path.write_text("zip,x,label\n" + "".join(
        f"{('02134', '2134', '10001')[i % 3]},{i},{('01', '1')[i % 2]}\n" for i in range(30)))
    t = read_table(path, TableOptions(categorical=("zip",)))
    assert t.columns[0]["levels"] == ["02134", "10001", "2134"]
    assert t.columns[1]["kind"] == "numeric" and sorted(set(t.labels)) == ["01", "1"]
    assert load_source(str(path), TableOptions(categorical=("zip",))).classes == ["01", "1"]
