"""Every runnable benchmark script still runs and writes the JSON keys RESULTS.md and the
issues name, with sane values (tiny sizes: these check behaviour, not figures).

Coverage: deep_memory, comm, scaling, dashboard_scale (AppTest and Chromium), overhead,
inference, chaos (SIGKILL mode, and launched workers: chaos_workers) and db_workers
(PostgreSQL) here; search_efficiency (with hand_loop, hypervolume, efficiency_report, suite) in
``test_benchmark_suite.py``; ``chaos.py --signals`` (chaos_signals) in
``tests/automl/test_reliability.py``; serve_load in
``tests/automl/export/test_serve_load_script.py`` (it needs that package's trained bundle).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))
from chromium import CHROMIUM  # noqa: E402


def _run(script: str, *args: str, cwd: Path = ROOT,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def _ok_json(proc: subprocess.CompletedProcess[str], out: Path) -> Any:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _cli(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one trained MLP (study "tiny")."""
    root = tmp_path_factory.mktemp("tiny")
    _cli("search", "--data", "digits", "--study", "tiny", "--trials", "1", "--epochs", "2",
         "--quiet", "--set", "search.arch=mlp", "--set", "trainer.num_threads=1",
         "--set", "trainer.latency_repeats=3", cwd=root)
    return root


def test_deep_memory_writes_goal_figures(tmp_path: Path) -> None:
    out = tmp_path / "deep.json"
    proc = _run(
        "deep_memory.py",
        "--layers",
        "40",
        "--sizes",
        "4x8,8x8",
        "--steps",
        "1",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert r["layers"] == 40 and r["goal_size"] == "8x8"
    assert [(s["width"], s["batch"]) for s in r["sizes"]] == [(4, 8), (8, 8)]
    last = r["sizes"][-1]
    assert r["memory_ratio"] == last["memory_ratio"] and r["time_ratio"] == last["time_ratio"]
    for s in r["sizes"]:
        # sqrt keeps ~sqrt(n) segment inputs instead of every activation.
        assert s["peak_mb_sqrt"] < s["peak_mb_none"]
        assert s["step_s_none"] > 0 and s["step_s_sqrt"] > 0 and s["time_ratio_floor"] > 1
    assert "goal (8x8)" in proc.stdout


def test_deep_memory_rejects_a_bad_size() -> None:
    proc = _run("deep_memory.py", "--sizes", "8xq")
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr and "WIDTHxBATCH" in proc.stderr


@pytest.mark.slow
@pytest.mark.distributed
def test_comm_quick_measures_the_hooks_bytes(tmp_path: Path) -> None:
    out = tmp_path / "comm.json"
    r = _ok_json(_run("comm.py", "--quick", "--json", str(out)), out)
    assert set(r["runs"]) == {"none", "fp16", "powersgd-1"}
    none = r["runs"]["none"]["bytes_per_step"]
    # fp16 sends every gradient at half width, exactly; PowerSGD far less.
    assert r["fp16_bytes_ratio"] == pytest.approx(0.5, abs=1e-3)
    assert r["runs"]["fp16"]["bytes_per_step"] == pytest.approx(none / 2, rel=1e-3)
    assert r["powersgd_best"] == "powersgd-1" and 0 < r["powersgd_bytes_ratio"] < 0.1
    assert r["powersgd_acc_delta"] == pytest.approx(
        100 * (r["runs"]["none"]["val_accuracy"] - r["runs"]["powersgd-1"]["val_accuracy"]))
    assert r["config"]["epochs"] == 1 and r["steps"] > 0
    assert all(0.1 < v["val_accuracy"] <= 1 for v in r["runs"].values())  # 10 classes: > chance


@pytest.mark.slow
@pytest.mark.distributed
def test_scaling_quick_compares_ddp_with_the_same_work(tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    r = _ok_json(_run("scaling.py", "--quick", "--device", "cpu", "--json", str(out)), out)
    one, two = r["rows"]
    assert (one["nproc"], two["nproc"]) == (1, 2) and r["config"]["epochs"] == 1
    assert one["efficiency"] == pytest.approx(1.0)
    assert two["efficiency"] == pytest.approx(
        two["samples_per_s"] / (2 * one["samples_per_s"]))
    assert r["efficiency"] == {"1": one["efficiency"], "2": two["efficiency"]}
    assert two["ddp_vs_independent"] == pytest.approx(
        two["samples_per_s"] / two["independent_samples_per_s"])
    assert "independent_samples_per_s" not in one
    for row in r["rows"]:
        assert row["samples_per_s"] > 0 and row["train_seconds"] > 0
        assert row["launch_seconds"] >= 0 and 0.1 < row["val_accuracy"] <= 1


def test_scaling_baseline_process_does_one_ranks_share() -> None:
    """The independent baseline trains and evaluates what one DDP rank does: every n-th
    training sample and the rank's contiguous shard of validation and test (as
    ``trainer.distributed.sharding.shard`` cuts them), nothing more."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from benchmarks.common import digits_splits
    from benchmarks.scaling import rank_share
    from trainer.distributed.sharding import shard

    d = digits_splits()
    for n in (2, 3):
        parts = [rank_share(d, rank, n) for rank in range(n)]
        assert sum(len(p.y_train) for p in parts) == len(d.y_train)
        for rank, p in enumerate(parts):
            assert np.array_equal(p.y_train, d.y_train[rank::n])
            for name in ("x_val", "y_val", "x_test", "y_test"):
                whole = getattr(d, name)
                assert np.array_equal(getattr(p, name),
                                      shard(torch.from_numpy(whole), rank, n).numpy()), name
        assert np.array_equal(np.concatenate([p.y_val for p in parts]), d.y_val)


def test_dashboard_scale_times_server_side_renders(tmp_path: Path) -> None:
    out = tmp_path / "dash.json"
    r = _ok_json(_run("dashboard_scale.py", "--trials", "60", "--repeat", "2",
                      "--json", str(out)), out)
    assert r["trials"] == 60 and "server-side render" in r["measures"]
    assert "no browser" in r["measures"]
    assert set(r["pages"]) == {"study page", "study page, importance tab",
                               "study page, parallel coordinates tab", "trial page",
                               "compare page", "studies page"}
    for label, page in r["pages"].items():
        assert page["cold_s"] > 0 and page["warm_s"] > 0, label
    assert r["pages"]["study page"]["drew"].startswith("title 'scale', ")
    assert r["cold_storage_reads"]["Storage.trials(study)"] >= 0


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")
def test_dashboard_scale_browser_mode_times_chromium(tmp_path: Path) -> None:
    out = tmp_path / "browser.json"
    r = _ok_json(_run("dashboard_scale.py", "--browser", "--trials", "30", "--repeat", "1",
                      "--only", "study page (Pareto plot)", "--json", str(out)), out)
    assert "headless Chromium" in r["measures"]
    assert set(r["pages"]) == {"6-trial study page (Pareto plot)", "study page (Pareto plot)"}
    for label, page in r["pages"].items():
        assert len(page["fresh_browser_s"]) == len(page["cached_browser_s"]) == 1, label
        assert all(t > 0 for t in page["fresh_browser_s"] + page["cached_browser_s"]), label


@pytest.mark.slow
def test_overhead_runs_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    r = _ok_json(_run("overhead.py", "--repeats", "1", "--trials", "1", "--epochs", "1",
                      "--json", str(out), timeout=400), out)
    assert (r["trials"], r["epochs"], r["repeats"]) == (1, 1, 1)
    assert len(r["automl_s"]) == len(r["hand_s"]) == 1
    assert r["automl_median_s"] == pytest.approx(r["automl_s"][0], abs=1e-3)
    assert r["ratio"] == pytest.approx(r["automl_median_s"] / r["hand_median_s"], rel=1e-3)
    assert all(t > 0 for t in r["automl_s"] + r["hand_s"])


@pytest.mark.slow
def test_inference_measures_three_backends(tiny_study: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "inference.json"
    proc = _run("inference.py", "--storage", f"sqlite:///{tiny_study / 'automl.db'}",
                "--study", "tiny", "--threads", "1", "--repeats", "5", "--rounds", "1",
                "--json", str(out))
    r = _ok_json(proc, out)
    assert (r["study"], r["arch"]["kind"]) == ("tiny", "mlp") and r["test_samples"] > 0
    assert {(row["backend"], row["batch"]) for row in r["rows"]} == {
        (b, n) for b in ("torch eager (fp32)", "ONNX Runtime fp32", "ONNX Runtime INT8")
        for n in (1, 256)}
    for row in r["rows"]:
        assert row["latency_ms"] > 0 and row["threads"] == 1
        assert row["throughput"] == pytest.approx(row["batch"] / (row["latency_ms"] / 1e3))
        assert 0.1 < row["test_accuracy"] <= 1  # 10 classes: far above chance
    q = r["quantization"]
    assert q["int8"]["size_bytes"] < q["float"]["size_bytes"]
    torch_acc = {row["test_accuracy"] for row in r["rows"] if row["backend"].startswith("torch")}
    onnx_acc = {row["test_accuracy"] for row in r["rows"] if row["backend"] == "ONNX Runtime fp32"}
    assert torch_acc == onnx_acc  # the same float model on the same split
    assert "| ONNX Runtime INT8 | 1 | 256 |" in proc.stdout


@pytest.mark.slow
def test_chaos_sigkill_one_kill(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    r = _ok_json(_run("chaos.py", "--kills", "1", "--trials", "4", "--max-seconds", "60",
                      "--json", str(out), cwd=tmp_path, timeout=400), out)
    assert r["ok"] and r["storage"] == "sqlite" and r["requested"] == 4
    assert r["finished"] == 4 and r["trials_lost"] == 0 and r["duplicate_completed"] == 0
    assert r["left_running_or_waiting"] == 0 and r["kills"] <= 1
    assert r["trials_total"] >= r["finished"]


@pytest.mark.slow
def test_chaos_one_launched_worker_killed(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    out = tmp_path / "workers.json"
    r = _ok_json(_run("chaos.py", "--worker-kills", "1", "--trials", "24", "--max-seconds",
                      "120", "--json", str(out), cwd=tmp_path, timeout=400), out)
    assert r["ok"] and r["launcher"] == "slurm-local" and r["workers"] == 2
    assert r["finished"] == 24 and r["trials_lost"] == 0 and r["left_running_or_waiting"] == 0
    assert r["kills"] == len(r["killed_trials"]) == 1
    assert r["failed_by_kills"] <= 1 and r["failed_not_rerun"] == 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("storage_url", ["postgres"], indirect=True)
def test_db_workers_two_workers_on_postgres(storage_url: str, tmp_path: Path) -> None:
    out = tmp_path / "db.json"
    r = _ok_json(_run("db_workers.py", "--storage", storage_url, "--workers", "1,2",
                      "--trials", "6", "--trial-s", "0.01", "--json", str(out),
                      timeout=400), out)
    rows = r["rounds"]
    assert [row["workers"] for row in rows] == [1, 2]
    for row in rows:
        assert row["finished"] == row["trials"] == 6
        assert row["duplicated"] == row["lost"] == 0
        assert row["left_running"] == row["left_waiting"] == row["worker_errors"] == 0
        assert row["claims_per_s"] > 0 and not math.isnan(row["run_s"])
