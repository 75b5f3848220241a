"""Loading a bundle and predicting from Python and the CLI: torch and ONNX Runtime agree."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from automl import Predictor, load_model

pytestmark = pytest.mark.slow


def raw_test_split(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The study's test split as a user would hold it: before standardization."""
    from automl.data import load_data

    d = spec["data"]
    data = load_data(d["source"], d["val_fraction"], d["test_fraction"], d["split_seed"],
                     d["standardize"])
    stats = spec["preprocessing"]
    mean = np.asarray(stats["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(stats["std"], np.float32).reshape(1, -1, 1, 1)
    return data.splits.x_test * std + mean, data.splits.y_test


def test_torch_and_onnx_agree_on_the_test_split(lab) -> None:  # noqa: ANN001
    x, y = raw_test_split(lab.best_spec)
    torch_out = Predictor(lab.best, backend="torch").predict(x)
    onnx_out = Predictor(lab.best, backend="onnx").predict(x)
    assert np.abs(torch_out.probabilities - onnx_out.probabilities).max() <= 1e-4
    assert torch_out.labels == onnx_out.labels
    assert np.allclose(torch_out.probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(torch_out.indices == y))
    assert abs(accuracy - lab.best_spec["metrics"]["test_accuracy"]) <= 1 / len(y)
    int8 = Predictor(lab.best, backend="onnx", quantized=True).predict(x)
    int8_accuracy = float(np.mean(int8.indices == y))
    assert int8_accuracy == pytest.approx(lab.best_spec["quantization"]["int8"]["test_accuracy"])
    # A 2-epoch model's INT8 drop is measured, not promised (benchmarks/inference.py has the
    # trained models' figures): on an AMD EPYC host this model lost 7.4 points of its 78.1 %
    # (the same at 01d3526 and later), where other hosts measured under 5. What a bundle must
    # never do is lose the model: INT8 far above chance, within 10 points of fp32.
    assert int8_accuracy >= max(accuracy - 0.10, 0.5)


def test_load_model_needs_no_database(lab, tmp_path) -> None:  # noqa: ANN001
    model = load_model(lab.best)
    assert not model.training and model.spec.input_shape == (1, 8, 8)
    # Elsewhere, with the database gone from view: neither SQL nor Optuna is imported.
    code = (f"import sys; from automl import load_model, Predictor\n"
            f"m = load_model({str(lab.best)!r})\n"
            f"p = Predictor({str(lab.best)!r}, backend='onnx').predict([[0.0] * 64])\n"
            f"print(p.labels, [k for k in ('sqlalchemy', 'optuna') if k in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("[]"), out


def test_predict_cli_on_npz_and_csv(lab, tmp_path) -> None:  # noqa: ANN001
    x, y = raw_test_split(lab.best_spec)
    x, y = x[:40], y[:40]
    expected = Predictor(lab.best).predict(x).labels
    np.savez(tmp_path / "in.npz", x=x, y=y)
    out = lab.cli("predict", str(lab.best), str(tmp_path / "in.npz")).stdout.splitlines()
    assert [line.split("\t")[1] for line in out[:40]] == expected
    assert out[-1].startswith("accuracy ") and "on 40 labelled samples" in out[-1]
    flat = x.reshape(len(x), -1)
    header = ",".join(f"p{i}" for i in range(flat.shape[1]))
    rows = "\n".join(",".join(f"{v:.9g}" for v in r) for r in flat)
    (tmp_path / "in.csv").write_text(f"{header}\n{rows}\n")
    # The same command on a CSV file, for programs: through the entry point in this process.
    result = json.loads(lab.here("predict", str(lab.best), str(tmp_path / "in.csv"),
                                 "--backend", "onnx", "--json").stdout)
    assert result["labels"] == expected and len(result["probabilities"]) == 40
    assert result["classes"] == lab.best_spec["classes"] and "accuracy" not in result
