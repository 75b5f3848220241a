"""A table with text, integer codes and missing values, end to end (issue 23): a real search on
the CSV, its best model exported, and the same raw rows predicted by the torch, ONNX and INT8
backends, by ``automl predict`` on a CSV, by the server from JSON rows with strings, and by a
plain ONNX Runtime client that uses no project code."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_kit import run_here
from readme_kit import README, python_block
from table_kit import churn_like

from automl import api
from automl.export.errors import InputError
from automl.export.predictor import Predictor


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tables")
    churn_like(400).to_csv(root / "churn.csv", index=False)
    url = f"sqlite:///{root / 'automl.db'}"
    api.search(data=str(root / "churn.csv"), study="churn", storage=url, trials=2, epochs=3,
               overrides=["trainer.latency_repeats=3", "trainer.num_threads=1",
                          "data.ignore=['rowid']"])
    api.export("churn", root / "bundle", storage=url, quantize="int8")
    return root / "bundle"


def new_rows() -> pd.DataFrame:
    """Rows as a user holds them later: columns in another order, an extra column, the label
    present, a state never seen in training, and missing values."""
    frame = churn_like(40, seed=7).drop(columns=["rowid"])
    frame["note"] = "x"
    frame.loc[0, "state"] = "PR"
    frame.loc[1, "total_minutes"] = None
    frame.loc[2, "international_plan"] = None
    return frame[list(reversed(frame.columns))]


def test_backends_agree_on_raw_rows_and_the_spec_carries_the_schema(bundle: Path) -> None:
    spec = json.loads((bundle / "spec.json").read_text())
    table = spec["preprocessing"]["table"]
    assert spec["arch"]["kind"] == "table" and table["label"] == "churn"
    assert [c["name"] for c in table["columns"]] == [
        "state", "area_code", "international_plan", "total_minutes", "service_calls", "vip"]
    rows = new_rows()
    torch_p = Predictor(bundle).predict_proba(rows)
    onnx_p = Predictor(bundle, "onnx").predict_proba(rows)
    int8 = Predictor(bundle, "onnx", quantized=True).predict_proba(rows)
    assert np.abs(torch_p - onnx_p).max() < 1e-4
    assert np.isfinite(int8).all() and np.allclose(int8.sum(axis=1), 1, atol=1e-3)
    records = rows.to_dict("records")  # as JSON objects keyed by column name
    np.testing.assert_allclose(Predictor(bundle).predict_proba(records), torch_p, atol=1e-6)
    card = (bundle / "README.md").read_text()
    assert "table encoder" in card and "| state | categorical | AL, KS, MA, NJ, NY, OH" in card


def readme_client() -> str:
    """The README's plain ONNX Runtime client for table models."""
    return python_block("A plain ONNX Runtime client needs nothing else")


def test_a_plain_onnx_runtime_client_reads_the_vocabulary_from_the_graph(
        bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No project code, the README's own snippet: the levels come from the graph's
    metadata_props, a value's code is its index there (-1 if unknown), NaN if missing."""
    rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in new_rows().to_dict("records")]
    monkeypatch.chdir(bundle.parent)  # the snippet opens bundle/model.onnx
    scope: dict[str, Any] = {"rows": rows}
    exec(compile(readme_client(), str(README), "exec"), scope)  # noqa: S102
    want = Predictor(bundle).predict_proba(new_rows())
    np.testing.assert_allclose(scope["probabilities"], want, atol=1e-4)
    assert not any(m.startswith(("automl", "search_spaces", "trainer"))
                   for m in scope if not m.startswith("__")) and "automl" not in readme_client()


def test_predict_reads_a_csv_by_column_name(bundle: Path, tmp_path: Path) -> None:
    rows = new_rows()
    rows.to_csv(tmp_path / "new.csv", index=False)
    out = run_here("predict", str(bundle), str(tmp_path / "new.csv"), "--json", cwd=tmp_path)
    result = json.loads(out.stdout)
    assert result["labels"] == Predictor(bundle).predict(rows).labels
    truth = rows["churn"].tolist()
    assert result["accuracy"] == pytest.approx(np.mean(np.equal(result["labels"], truth)))
    rows.drop(columns=["vip"]).to_csv(tmp_path / "short.csv", index=False)
    bad = run_here("predict", str(bundle), str(tmp_path / "short.csv"), cwd=tmp_path,
                   check=False)
    assert bad.returncode != 0 and "short.csv: missing column 'vip'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("rows", "message"), [
    ([{"state": "KS"}], "missing column 'area_code'"),
    ([["KS", 415, "yes", "lots", 1, True]], "column 'total_minutes': 'lots' is not a number"),
    ([["KS", 415, "yes", True, 1, True]], "column 'total_minutes': 'True' is not a number"),
    ([[1, 2]], "expected rows with the columns state, area_code"),
    ([{"state": {"nested": 1}, "area_code": 1, "international_plan": "no",
       "total_minutes": 1, "service_calls": 1, "vip": True}], "a row value is a list or object"),
])
def test_bad_rows_are_one_line_errors(bundle: Path, rows: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Predictor(bundle).predict(rows)


def test_the_server_takes_json_rows_with_strings(bundle: Path) -> None:
    from fastapi.testclient import TestClient

    from automl.serve.app import create_app

    rows = new_rows()
    body = json.loads(rows.to_json(orient="records"))  # what a client sends: strings, nulls
    client = TestClient(create_app(bundle, backend="onnx", max_batch=64))
    r = client.post("/predict", json={"inputs": body})
    assert r.status_code == 200, r.text
    assert r.json()["labels"] == Predictor(bundle).predict(rows).labels
    r = client.post("/predict", json={"inputs": [{"state": "KS"}]})
    assert r.status_code == 422 and "missing column 'area_code'" in r.json()["detail"]


def test_retrain_reads_the_table_again_and_refuses_other_columns(
        bundle: Path, tmp_path: Path) -> None:
    """The reproduce command re-reads the CSV with the study's table options (data.ignore
    here); a table the searched encoder does not fit (another level count) is refused in one
    line. (New level names with the same counts are fine: retraining learns them afresh.)"""
    spec = json.loads((bundle / "spec.json").read_text())
    assert spec["data"]["ignore"] == ["rowid"]
    source = spec["data"]["source"]
    out = run_here("retrain", "--from", str(bundle), "--data", source, "--as-searched",
                   "--epochs", "1", "--out", str(tmp_path / "again"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    again = json.loads((tmp_path / "again" / "spec.json").read_text())
    assert again["preprocessing"]["table"] == spec["preprocessing"]["table"]
    other = pd.read_csv(source)
    other.loc[other.index[:60], "state"] = "ZZ"  # one level more: another encoder
    other.to_csv(tmp_path / "other.csv", index=False)
    bad = run_here("retrain", "--from", str(bundle), "--data", str(tmp_path / "other.csv"),
                   "--out", str(tmp_path / "x"), cwd=tmp_path, check=False)
    assert bad.returncode != 0 and "columns (kinds, levels, missing values) are not" in bad.stderr


@pytest.mark.parametrize(("encoding", "bins"), [("embed", 0), ("onehot", 8), ("embed", 32)])
def test_every_encoding_exports_to_onnx_unchanged(tmp_path: Path, encoding: str,
                                                  bins: int) -> None:
    """NaNs, unknown codes and fitted bin edges go through the ONNX graph as through torch."""
    import onnxruntime as ort
    import torch

    from automl.export.onnx_io import export_onnx
    from search_spaces import ColumnSpec, MLPSpec, TableSpec, build_model

    cols = (ColumnSpec("numeric", missing=True), ColumnSpec("categorical", levels=4),
            ColumnSpec("numeric"))
    width = sum(c.width(encoding, 8, bins) for c in cols)
    spec = TableSpec(columns=cols, encoding=encoding, embed_dim=8, bins=bins,
                     body=MLPSpec(input_shape=(width,), num_classes=2, hidden=(16,)))
    torch.manual_seed(0)
    model = build_model(spec).eval()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    x[:, 1] = rng.integers(-1, 6, 64)  # -1 and 4, 5: unknown
    x[rng.random((64, 3)) < 0.2] = np.nan
    model.fit_to_data(torch.from_numpy(x), torch.zeros(64, dtype=torch.long))
    export_onnx(model, (3,), tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[1]
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(x)), -1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_table_of_numbers_predicts_by_column_name(tmp_path: Path) -> None:
    """A table with no text and nothing missing trains a plain network, yet predicts from a
    CSV by column name, as every table does; a missing value is refused in one line."""
    frame = churn_like(200)[["total_minutes", "service_calls", "rowid", "churn"]].dropna()
    frame.to_csv(tmp_path / "nums.csv", index=False)
    url = f"sqlite:///{tmp_path / 'n.db'}"
    api.search(data=str(tmp_path / "nums.csv"), study="n", storage=url, trials=1, epochs=1,
               overrides=["trainer.latency_repeats=3", "search.arch='mlp'"])
    api.export("n", tmp_path / "b", storage=url, onnx=False)
    rows = frame.iloc[:20][["churn", "rowid", "service_calls", "total_minutes"]]  # reordered
    p = Predictor(tmp_path / "b")
    assert p.spec["arch"]["kind"] == "mlp"
    np.testing.assert_allclose(p.predict_proba(rows), p.predict_proba(
        frame.iloc[:20, :3].to_numpy(np.float32)), atol=1e-6)
    rows = rows.assign(total_minutes=[None] + rows["total_minutes"].tolist()[1:])
    with pytest.raises(InputError, match="missing value in column 'total_minutes': this model "
                                         "was trained on a table without missing values"):
        p.predict(rows)


def test_the_body_limit_counts_a_tables_rows_in_bytes(bundle: Path) -> None:
    """The server's limit is bytes: a table row keyed by name, with its longest level in every
    categorical column and long numbers, fits the per-row allowance a batch is sized by."""
    from automl.serve.app import max_body_bytes, table_row_bytes

    table = json.loads((bundle / "spec.json").read_text())["preprocessing"]["table"]
    row = {c["name"]: max(c["levels"], key=len) if c["kind"] == "categorical"
           else -1.2345678901234567e-05 for c in table["columns"]}
    per_row = table_row_bytes(table)
    assert per_row is not None and len(json.dumps(row)) + 2 <= per_row
    assert max_body_bytes((6,), 16, per_row) == 16 * per_row + 65536
    assert table_row_bytes(None) is None  # other models: numbers per sample, as before
