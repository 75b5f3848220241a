"""Every runnable benchmark script still runs and writes the JSON keys RESULTS.md and the
issues name, with sane values (tiny sizes: these check behaviour, not figures).

Coverage: deep_memory, comm, scaling, dashboard_scale (AppTest and Chromium), overhead,
inference and db_workers (PostgreSQL) here; chaos (SIGKILL mode, and launched workers:
chaos_workers) in ``test_chaos_scripts.py``; search_efficiency (with hand_loop, hypervolume,
efficiency_report, suite) in ``test_benchmark_suite.py``; ``chaos.py --signals``
(chaos_signals) in ``tests/automl/test_reliability.py``; serve_load in
``tests/automl/export/test_serve_load_script.py`` (it needs that package's trained bundle).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import pytest
from cli_kit import run_here
from script_run import ROOT, ok_json, run_script

sys.path.insert(0, str(ROOT / "tests" / "dashboard"))
from chromium import CHROMIUM  # noqa: E402


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one trained MLP (study "tiny"), searched through the CLI's entry point
    in this process (not the suite's shared CNN study: an MLP is exported and timed in half
    the time)."""
    root = tmp_path_factory.mktemp("tiny")
    run_here("search", "--data", "digits", "--study", "tiny", "--trials", "1", "--epochs", "2",
             "--quiet", "--set", "search.arch=mlp", "--set", "trainer.num_threads=1",
             "--set", "trainer.latency_repeats=3", cwd=root)
    return root


def test_deep_memory_writes_goal_figures(tmp_path: Path) -> None:
    out = tmp_path / "deep.json"
    proc = run_script(
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
    # By hand: 40 layers on 8x8 = stem conv + 2 stride-2 transitions + 36 residual conv3
    # blocks + Linear head; the 38 between stem and head are what checkpointing segments.
    # Parameters at width w: stem 9w + BN 2w, 38 convs of 9w^2 + BN 2w, head 10w + 10.
    assert r["blocks"] == 38
    assert [s["params"] for s in r["sizes"]] == [5870, 22674]
    four, last = r["sizes"]
    assert four["grads_mb"] == pytest.approx(5870 * 4 / 2**20)  # fp32 gradients
    # The goal figures are the 8x8 run's measured peaks and step times, sqrt over none.
    assert r["memory_ratio"] == pytest.approx(last["peak_mb_none"] / last["peak_mb_sqrt"])
    assert r["time_ratio"] == pytest.approx(last["step_s_sqrt"] / last["step_s_none"])
    # Twice the channels: twice the activations (and 4x the conv gradients) to hold.
    assert 1.5 < last["peak_mb_none"] / four["peak_mb_none"] < 4.5
    for s in r["sizes"]:
        # sqrt keeps ~sqrt(n) segment inputs instead of every activation: it saves memory,
        # but not more than one block's activations in 38; the gradients built count in both.
        assert s["grads_mb"] < s["peak_mb_sqrt"] < s["peak_mb_none"] < 38 * s["peak_mb_sqrt"]
        assert s["step_s_none"] > 0 and s["step_s_sqrt"] > 0 and s["time_ratio_floor"] > 1
    assert "goal (8x8)" in proc.stdout


def test_deep_memory_rejects_a_bad_size() -> None:
    proc = run_script("deep_memory.py", "--sizes", "8xq")
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr and "WIDTHxBATCH" in proc.stderr


@pytest.mark.slow
@pytest.mark.distributed
def test_comm_quick_measures_the_hooks_bytes(tmp_path: Path) -> None:
    out = tmp_path / "comm.json"
    r = ok_json(run_script("comm.py", "--quick", "--json", str(out)), out)
    assert set(r["runs"]) == {"none", "fp16", "powersgd-1"}
    # By hand: the MLP 64-512-512-10 has 64*512 + 512 + 512*512 + 512 + 512*10 + 10 = 301,066
    # parameters; every step all-reduces each gradient once: 4 bytes each, fp16 2 bytes.
    # PowerSGD rank 1 sends P and Q of each weight ((512+64) + (512+512) + (10+512) floats)
    # and the 1,034 biases as they are: 3,156 floats.
    bytes_per_step = {name: run["bytes_per_step"] for name, run in r["runs"].items()}
    assert bytes_per_step == {"none": 301_066 * 4, "fp16": 301_066 * 2, "powersgd-1": 3_156 * 4}
    assert r["fp16_bytes_ratio"] == pytest.approx(0.5, abs=1e-3)
    assert r["powersgd_best"] == "powersgd-1"
    assert r["powersgd_bytes_ratio"] == pytest.approx(3_156 / 301_066)
    # 1 epoch of the 1,257 training images in global batches of 64: 20 steps.
    assert r["config"]["epochs"] == 1 and r["steps"] == 20
    # Accuracy points on the 270 validation images: a whole number of images apart.
    images = r["powersgd_acc_delta"] * 270 / 100
    assert images == pytest.approx(round(images), abs=1e-6) and abs(images) <= 270
    assert all(0.1 < v["val_accuracy"] <= 1 for v in r["runs"].values())  # 10 classes: > chance


@pytest.mark.slow
@pytest.mark.distributed
def test_scaling_quick_compares_ddp_with_the_same_work(tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    r = ok_json(run_script("scaling.py", "--quick", "--device", "cpu", "--json", str(out)), out)
    one, two = r["rows"]
    assert (one["nproc"], two["nproc"]) == (1, 2) and r["config"]["epochs"] == 1
    for row in r["rows"]:
        # The same work for every N: one epoch of the 1,257 training images.
        assert row["samples_per_s"] * row["train_seconds"] == pytest.approx(1257)
    # Efficiency from the measured seconds: the same work in t2 on twice the processes.
    assert r["efficiency"] == pytest.approx(
        {"1": 1.0, "2": one["train_seconds"] / (2 * two["train_seconds"])})
    # Independent processes do a rank's work each without communicating: DDP cannot beat
    # them by much (a busy machine blurs both a little).
    assert 0 < two["ddp_vs_independent"] < 1.5
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
    r = ok_json(run_script("dashboard_scale.py", "--trials", "60", "--repeat", "2",
                           "--json", str(out)), out)
    assert r["trials"] == 60 and "server-side render" in r["measures"]
    assert "no browser" in r["measures"]
    assert set(r["pages"]) == {"study page", "study page, importance tab",
                               "study page, parallel coordinates tab", "trial page",
                               "compare page", "studies page"}
    for label, page in r["pages"].items():
        assert page["cold_s"] > 0 and page["warm_s"] > 0, label
    drew = {label: page["drew"].split(",")[0] for label, page in r["pages"].items()}
    assert drew == {"study page": "title 'scale'", "study page, importance tab": "title 'scale'",
                    "study page, parallel coordinates tab": "title 'scale'",
                    "trial page": "title 'Trial 1'", "compare page": "title 'Compare trials'",
                    "studies page": "title 'Studies'"}
    reads = r["cold_storage_reads"]
    assert set(reads) == {
        "open_storage + Optuna RDBStorage", "Storage.trials(study)",
        "Optuna's own API, for comparison (get_all_trials)",
        "leaderboard_frame + params_frame (dashboard)",
        "Storage.trials(study, with_epochs=True) (trial page)",
        "Storage.list_studies() (studies page)"}
    assert all(0 < seconds < 60 for seconds in reads.values()), reads


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")
def test_dashboard_scale_browser_mode_times_chromium(tmp_path: Path) -> None:
    out = tmp_path / "browser.json"
    r = ok_json(run_script("dashboard_scale.py", "--browser", "--trials", "30", "--repeat",
                           "1", "--only", "study page (Pareto plot)", "--json", str(out)), out)
    assert "headless Chromium" in r["measures"]
    assert set(r["pages"]) == {"6-trial study page (Pareto plot)", "study page (Pareto plot)"}
    for label, page in r["pages"].items():
        assert len(page["fresh_browser_s"]) == len(page["cached_browser_s"]) == 1, label
        assert all(t > 0 for t in page["fresh_browser_s"] + page["cached_browser_s"]), label


@pytest.mark.slow
def test_overhead_runs_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    start = time.perf_counter()
    proc = run_script("overhead.py", "--repeats", "1", "--trials", "1", "--epochs", "1",
                      "--json", str(out), timeout=400)
    wall = time.perf_counter() - start  # measured here, apart from the script
    r = ok_json(proc, out)
    assert (r["trials"], r["epochs"], r["repeats"]) == (1, 1, 1)
    assert len(r["automl_s"]) == len(r["hand_s"]) == 1
    # Wall seconds of the two searches the script ran one after the other: most of its own
    # run (the rest is its start-up), never more.
    timed = r["automl_s"][0] + r["hand_s"][0]
    assert 0.5 * wall < timed < wall
    # One run each: the medians are those runs (to the 3 decimals written), the ratio theirs.
    assert (r["automl_median_s"], r["hand_median_s"]) == (
        round(r["automl_s"][0], 3), round(r["hand_s"][0], 3))
    assert r["ratio"] == pytest.approx(r["automl_s"][0] / r["hand_s"][0], rel=1e-3)


@pytest.mark.slow
def test_inference_measures_three_backends(tiny_study: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "inference.json"
    proc = run_script("inference.py", "--storage", f"sqlite:///{tiny_study / 'automl.db'}",
                      "--study", "tiny", "--threads", "1", "--repeats", "5", "--rounds", "1",
                      "--json", str(out))
    r = ok_json(proc, out)
    assert (r["study"], r["arch"]["kind"]) == ("tiny", "mlp") and r["test_samples"] > 0
    assert {(row["backend"], row["batch"]) for row in r["rows"]} == {
        (b, n) for b in ("torch eager (fp32)", "ONNX Runtime fp32", "ONNX Runtime INT8")
        for n in (1, 256)}
    for row in r["rows"]:
        assert row["latency_ms"] > 0 and row["threads"] == 1
        assert 0.1 < row["test_accuracy"] <= 1  # 10 classes: far above chance
    by = {(row["backend"], row["batch"]): row for row in r["rows"]}
    for backend in {row["backend"] for row in r["rows"]}:
        one, many = by[backend, 1], by[backend, 256]
        # 256 samples take longer than one, but a batch spreads each call's fixed cost.
        assert many["latency_ms"] > one["latency_ms"] and many["throughput"] > one["throughput"]
    q = r["quantization"]
    assert q["int8"]["size_bytes"] < q["float"]["size_bytes"]
    torch_acc = {row["test_accuracy"] for row in r["rows"] if row["backend"].startswith("torch")}
    onnx_acc = {row["test_accuracy"] for row in r["rows"] if row["backend"] == "ONNX Runtime fp32"}
    assert torch_acc == onnx_acc  # the same float model on the same split
    assert "| ONNX Runtime INT8 | 1 | 256 |" in proc.stdout


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("storage_url", ["postgres"], indirect=True)
def test_db_workers_two_workers_on_postgres(storage_url: str, tmp_path: Path) -> None:
    out = tmp_path / "db.json"
    r = ok_json(run_script("db_workers.py", "--storage", storage_url, "--workers", "1,2",
                           "--trials", "6", "--trial-s", "0.01", "--json", str(out),
                           timeout=400), out)
    rows = r["rounds"]
    assert [row["workers"] for row in rows] == [1, 2]
    for row in rows:
        assert row["finished"] == row["trials"] == 6
        assert row["duplicated"] == row["lost"] == 0
        assert row["left_running"] == row["left_waiting"] == row["worker_errors"] == 0
        assert row["claims_per_s"] > 0 and not math.isnan(row["run_s"])
