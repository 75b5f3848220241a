"""``automl retrain``: the bundle's reproduce command rebuilds the same model, and a train +
validation retrain reports its test accuracy next to the search-time figure."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow


def test_reproduce_command_rebuilds_the_same_model(lab, tmp_path: Path) -> None:  # noqa: ANN001
    argv = shlex.split(lab.best_spec["reproduce"]["command"])
    assert argv[:2] == ["automl", "retrain"] and "--from" in argv and "--as-searched" in argv
    assert argv[argv.index("--from") + 1] == str(lab.best)
    assert argv[argv.index("--data") + 1] == "digits"  # a bundle never chooses its data
    argv[argv.index("--out") + 1] = str(tmp_path / "again")  # this run's own folder
    lab.cli(*argv[1:], "--no-onnx")
    again = json.loads((tmp_path / "again" / "spec.json").read_text())
    assert again["metrics"]["test_accuracy"] == lab.best_spec["metrics"]["test_accuracy"]
    assert again["metrics"]["val_accuracy"] == lab.best_spec["metrics"]["val_accuracy"]
    before = load_file(str(lab.best / "model.safetensors"))
    after = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # same seed, same weights
    # The database form of the command names the same trial and an absolute SQLite path.
    db = shlex.split(lab.best_spec["reproduce"]["from_database"])
    assert db[2] == "tiny" and db[db.index("--trial") + 1] == str(lab.best_spec["trial"])
    assert db[db.index("--storage") + 1] == lab.url


def test_retrain_on_train_plus_validation(lab, tmp_path: Path) -> None:  # noqa: ANN001
    trial = str(lab.best_spec["trial"])
    out = lab.cli("retrain", "tiny", "--trial", trial, "--epochs", "3", "--out",
                  str(tmp_path / "r"), "--no-onnx").stdout
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    r = spec["retrain"]
    assert r["mode"] == "train+val" and r["epochs"] == 3 and spec["train_config"]["epochs"] == 3
    assert r["search_test_accuracy"] == lab.best_spec["metrics"]["test_accuracy"]
    assert r["search_epochs"] == 2
    assert r["train_samples"] > lab.best_spec["verification"]["samples"] * 4  # train + val
    assert spec["metrics"]["val_accuracy"] is None  # no held-out validation data was left
    # Well above chance: the retrained weights (not a fresh network) are what was measured.
    assert spec["metrics"]["test_accuracy"] > 2 / len(spec["classes"])
    assert "quantization" not in spec and "onnx" not in spec  # nothing stale from the source
    assert "at search time" in out and "retrained (train+val, 3 epochs" in out
    assert "--epochs 3" in spec["reproduce"]["command"]
    assert "--as-searched" not in spec["reproduce"]["command"]
