"""``automl retrain``: the bundle's reproduce command rebuilds the same model, and a train +
validation retrain reports its test accuracy next to the search-time figure (through the CLI's
entry point in this process; two torchrun nodes run it as processes)."""

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
    lab.here(*argv[1:], "--no-onnx")
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


def test_retrain_on_train_plus_validation(lab, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import trainer

    kept: list[str] = []
    real = trainer.train

    def spy(*args: object, **kw: object) -> object:  # the real trainer, its `keep` noted
        kept.append(str(kw.get("keep", "best")))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "train", spy)
    trial = str(lab.best_spec["trial"])
    out = lab.here("retrain", "tiny", "--trial", trial, "--epochs", "3", "--out",
                   str(tmp_path / "r"), "--no-onnx").stdout
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    r = spec["retrain"]
    assert r["mode"] == "train+val" and r["epochs"] == 3 and spec["train_config"]["epochs"] == 3
    # Its validation samples were trained on: the last epoch is kept, never chosen by them.
    assert kept == ["last"] and r["best_epoch"] == 3 and spec["metrics"]["best_epoch"] == 3
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


@pytest.mark.distributed
def test_retrain_across_two_torchrun_nodes(lab, tmp_path: Path) -> None:  # noqa: ANN001
    """What ``srun torchrun --nnodes 2 ...`` does on a Slurm allocation, with two "nodes" on
    one host: torchrun's own c10d rendezvous, one rank per node, DDP between them; rank 0
    alone writes the bundle."""
    import os
    import subprocess
    import sys

    from trainer.distributed.nodes import free_port

    endpoint = f"127.0.0.1:{free_port()}"
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
            "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
            "--rdzv-id", "retrain-two-nodes", "-m", "automl", "retrain", "--from",
            str(lab.best), "--data", "digits", "--as-searched", "--out", str(tmp_path / "two"),
            "--no-onnx"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(node, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], logs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two"]  # one bundle, no partials
    spec = json.loads((tmp_path / "two" / "spec.json").read_text())
    assert spec["retrain"]["ranks"] == 2
    assert spec["costs"]["comm_bytes_per_step"] > 0  # the ranks all-reduced their gradients
    check = spec["verification"]
    assert check["torch_test_accuracy"] == pytest.approx(spec["metrics"]["test_accuracy"],
                                                         abs=1 / check["samples"])
    # A trained model (chance is 0.1); not the search trial's exact weights, since each rank
    # normalises its own half batch (BatchNorm).
    assert spec["metrics"]["test_accuracy"] >= 3 / len(spec["classes"])
    assert sum("test accuracy" in log for log in logs) == 1  # rank 0 alone reports
