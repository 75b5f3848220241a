"""Bundles are data, never code: nothing named in a bundle (or in a shared database) is
imported or run unless the user names it on the command line."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
from bundle_kit import MLP, edit_spec, make_bundle, raw_inputs
from cli_kit import run_cli, run_here

from automl.export import Predictor, load_model
from automl.export.errors import ExportError
from automl.export.retrain import base_spec_from_bundle, retrain

SOURCE = "python:evil_probe:load"
PROBE = '''
import os
from pathlib import Path

MARK = Path(os.environ.get("PROBE_MARK", Path(__file__).with_name("probe.log")))
with MARK.open("a") as fh:
    fh.write("imported\\n")


def load():
    from sklearn.datasets import load_digits

    with MARK.open("a") as fh:
        fh.write("called\\n")
    d = load_digits()
    return d.images[:, None], d.target
'''


def probe_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "evil_probe.py").write_text(PROBE)
    return root


def runs(root: Path) -> list[str]:
    mark = root / "probe.log"
    return mark.read_text().split() if mark.exists() else []


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_loading_predicting_serving_never_import_the_bundles_data_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = probe_dir(tmp_path / "work")
    monkeypatch.syspath_prepend(str(root))  # importable, so a loader *could* run it
    monkeypatch.chdir(root)
    make_bundle(root / "b", MLP)
    spec = json.loads((root / "b" / "spec.json").read_text())
    edit_spec(root / "b", data={**spec["data"], "source": SOURCE})
    load_model(root / "b")
    x = raw_inputs(MLP, 3)
    for backend in ("torch", "onnx"):
        Predictor(root / "b", backend).predict(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from automl.serve.app import create_app

    client = TestClient(create_app(root / "b"))
    assert client.get("/metadata").status_code == 200
    assert client.post("/predict", json={"inputs": x.tolist()}).status_code == 200
    # retrain --from takes its data from --data only, whatever the bundle says.
    base = base_spec_from_bundle(root / "b")
    with pytest.raises(ExportError, match=r"needs the data given explicitly: add --data "
                                          r"python:evil_probe:load"):
        retrain(base, root / "r", from_bundle=True)
    proc = run_cli("retrain", "--from", str(root / "b"), "--out", "r2", cwd=root, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--data" in lines[0] and "retrain --from BUNDLE" in lines[0]
    assert runs(root) == []  # never imported
    assert not (root / "r").exists() and not (root / "r2").exists()


@pytest.mark.slow
def test_a_python_source_stored_in_the_database_runs_only_when_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = probe_dir(tmp_path / "lab")
    # The commands run in this process, each as `python -m automl` in ``root`` would start:
    # the probe importable from there (a new process has its working directory on sys.path),
    # and not imported yet (so an import, not only a call, shows in the log).
    monkeypatch.syspath_prepend(str(root))

    def cli(*args: str, check: bool = True):  # noqa: ANN202
        sys.modules.pop("evil_probe", None)
        try:
            return run_here(*args, cwd=root, check=check)
        finally:
            sys.modules.pop("evil_probe", None)

    cli("search", "--data", SOURCE, "--study", "s", "--trials", "1", "--epochs", "1", "--quiet",
        "--set", "search.arch=mlp", "--set", "trainer.latency_repeats=3")
    searched = len(runs(root))
    assert searched >= 2  # the search ran it: the user named it there

    proc = cli("export", "s", "--out", "quiet", "--json")
    assert len(runs(root)) == searched  # not run again
    report = json.loads(proc.stdout)
    [bundle] = report["bundles"]
    assert bundle["spec"]["verification"]["inputs"] == "random (no data)"
    [warning] = [w for w in report["warnings"] if SOURCE in w]
    assert "not run" in warning and f"--data {SOURCE}" in warning
    assert f"warning: {warning}" in proc.stderr

    proc = cli("export", "s", "--out", "measured", "--data", SOURCE, "--json")
    assert runs(root)[searched:] == ["imported", "called"]
    spec = json.loads(proc.stdout)["bundles"][0]["spec"]
    assert spec["verification"]["inputs"] == "test split"
    assert abs(spec["verification"]["torch_test_accuracy"]
               - spec["metrics"]["test_accuracy"]) <= 1 / 200

    count = len(runs(root))
    trial = str(spec["trial"])
    proc = cli("retrain", "s", "--trial", trial, "--out", "r", "--no-onnx", check=False)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "is Python code named by the database" in line and f"--data {SOURCE}" in line
    proc = cli("retrain", "--from", "measured", "--out", "r", "--no-onnx", check=False)
    assert proc.returncode == 2 and "--data" in proc.stderr
    assert len(runs(root)) == count and not (root / "r").exists()
    # Named on the command line, it runs.
    cli("retrain", "s", "--trial", trial, "--out", "r", "--no-onnx", "--epochs", "1",
        "--data", SOURCE)
    assert len(runs(root)) > count
    assert json.loads((root / "r" / "spec.json").read_text())["data"]["source"] == SOURCE
