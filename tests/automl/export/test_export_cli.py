"""``automl export`` end to end: a real search, real bundles, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from automl.export.bundle import BundleOptions
from automl.export.exporter import export_study
from automl.policy.select import best_trial, knee_trial, pareto_trials
from automl.storage import open_storage

pytestmark = pytest.mark.slow
NO_ONNX = BundleOptions(onnx=False)

SPEC_KEYS = {"arch", "loss", "loss_formula", "input_shape", "classes", "preprocessing",
             "metrics", "costs", "seed", "data", "versions", "reproduce", "onnx",
             "quantization", "verification", "files", "train_config", "hparams"}


def records(lab):  # noqa: ANN001, ANN201
    store = open_storage(lab.url, create=False)
    try:
        return store.trials("tiny")
    finally:
        store.close()


def test_best_bundle_is_self_contained_and_checked(lab) -> None:  # noqa: ANN001
    spec = json.loads((lab.best / "spec.json").read_text())
    assert spec == lab.best_spec and SPEC_KEYS <= set(spec)
    assert spec["trial"] == best_trial(records(lab), "flops").number
    assert spec["selected_by"] == "best" and spec["arch"]["kind"] == "cnn2d"
    assert spec["input_shape"] == [1, 8, 8] and spec["classes"] == [str(i) for i in range(10)]
    assert spec["preprocessing"]["axis"] == "channel"
    assert len(spec["data"]["sha256"]) == 64 and spec["data"]["source"] == "digits"
    assert {"torch", "automl", "onnx", "onnxruntime"} <= set(spec["versions"])
    assert spec["loss"]["kind"] and spec["loss_formula"]
    for key in ("params", "flops", "latency_ms"):
        assert spec["costs"][key] > 0
    check = spec["verification"]
    assert check["inputs"] == "test split" and check["onnx_max_abs_diff"] <= 1e-4
    # The re-loaded test split gives the search-time test accuracy (to one sample).
    assert abs(check["torch_test_accuracy"] - spec["metrics"]["test_accuracy"]) <= 1 / 200
    for name in ("model.onnx", "model.int8.onnx"):
        onnx.checker.check_model(onnx.load(str(lab.best / name)), full_check=True)
    q = spec["quantization"]
    assert q["float"]["size_bytes"] > q["int8"]["size_bytes"]
    assert q["method"] == "static" and q["calibration_samples"] > 0
    card = (lab.best / "README.md").read_text()
    assert f"trial {spec['trial']}" in card and spec["reproduce"]["command"] in card
    assert sorted(spec["files"]) == ["model.int8.onnx", "model.onnx", "model.pt2",
                                     "model.safetensors"]
    assert spec["pt2"]["status"] == "ok" and check["pt2_max_abs_diff"] <= 1e-4


def test_knee_number_and_pareto(lab) -> None:  # noqa: ANN001
    recs = records(lab)
    out = json.loads(lab.cli("export", "tiny", "--trial", "knee", "--out", "knee", "--no-onnx",
                             "--json").stdout)
    [bundle] = out["bundles"]
    assert bundle["spec"]["trial"] == knee_trial(recs, "flops").number
    assert {p.name for p in (lab.root / "knee").iterdir()} == {
        "model.safetensors", "spec.json", "README.md"}
    # The same function the CLI calls, in-process (the CLI itself is covered above).
    number = max(r.number for r in recs if r.state == "COMPLETE")
    report = export_study(lab.url, "tiny", number, lab.root / "n", options=NO_ONNX)
    [(folder, spec)] = report.bundles
    assert folder == lab.root / "n" and spec["trial"] == number
    assert spec["selected_by"] == "trial"
    export_study(lab.url, "tiny", "best", lab.root / "front", pareto=True, options=NO_ONNX)
    front = [r.number for r in pareto_trials(recs, "flops")]
    index = json.loads((lab.root / "front" / "pareto.json").read_text())
    assert [m["trial"] for m in index["members"]] == front
    for n in front:
        spec = json.loads((lab.root / "front" / f"trial_{n:05d}" / "spec.json").read_text())
        assert spec["trial"] == n and spec["selected_by"] == "pareto"


def test_errors_are_one_line_with_exit_code_2(lab, error_db: Path) -> None:  # noqa: ANN001
    errors = f"sqlite:///{error_db / 'automl.db'}"
    (lab.root / "taken").mkdir(exist_ok=True)
    (lab.root / "taken" / "file").write_text("x")
    rows = np.arange(60)
    np.savez(lab.root / "flat.npz", x=np.random.rand(60, 13), y=rows % 10)  # not 1 x 8 x 8
    np.savez(lab.root / "five.npz", x=np.random.rand(60, 1, 8, 8), y=rows % 5)  # not 10
    cases = [
        (["export", "broken", "--trial", "0", "--storage", errors, "--out", "x1"],
         "trial 0 of study 'broken' is FAIL, not COMPLETE"),
        (["export", "tiny", "--trial", "99", "--out", "x2"], "study 'tiny' has no trial 99"),
        (["export", "tiny", "--out", "taken"], "already exists and is not empty"),
        (["export", "tiny", "--out", "taken/file/sub"],
         "taken/file: not writable (a file, not a folder)"),
        (["export", "tiny", "--out", "/proc/automl-x8"], "/proc: not writable"),
        (["export", "pruned", "--storage", errors, "--out", "x3"],
         "study 'pruned' has no completed trial with weights (2 pruned)"),
        (["export", "nope", "--out", "x4"], "no study named 'nope'"),
        (["export", "tiny", "--trial", "first", "--out", "x5"], "expected best, knee or"),
        (["export", "tiny", "--trial", "knee", "--pareto", "--out", "x12"],
         "--trial knee and --pareto"),
        (["export", "tiny", "--out", "x6", "--no-onnx", "--quantize", "int8"], "--no-onnx"),
        (["predict", "missing", "in.npz"], "bundle folder not found"),
        (["retrain", "tiny", "--out", "x7"], "give STUDY --trial N, or --from BUNDLE"),
        (["retrain", "--from", "best", "--data", "flat.npz", "--out", "x9"],
         "the data's samples have shape (13,), the model reads (1, 8, 8)"),
        (["retrain", "--from", "best", "--data", "five.npz", "--out", "x10"],
         "the data has 5 classes, the model predicts 10"),
        (["export", "tiny", "--data", "five.npz", "--out", "x11"],
         "the data has 5 classes, the model predicts 10"),
    ]
    commands: set[str] = set()
    for args, expected in cases:
        # Each command's first error as a user meets it, in a new process (what a real stderr
        # shows, its imports' noise included); the others' messages and exit codes through
        # the same entry point in this process.
        proc = (lab.here if args[0] in commands else lab.cli)(*args, check=False)
        commands.add(args[0])
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, proc.stderr)
        assert expected in lines[0], (args, lines[0])
    # Nothing half-written is left behind by a failed export.
    assert not [p for p in lab.root.iterdir() if p.name.startswith((".x", "x"))]
    assert (lab.root / "taken" / "file").read_text() == "x"
