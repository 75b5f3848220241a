"""Launchers with the real libraries: submitit's LocalExecutor (real submitit jobs, local
processes) and a local Ray cluster, each running a small search to an exact trial count on
PostgreSQL; a worker killed mid-trial; and the pure decisions, without any of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from automl.cluster import placement
from automl.cluster.settings import ClusterSection
from automl.config import load
from automl.control.controller import fingerprint
from automl.errors import ConfigError
from automl.storage.capacity import Connections

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_reliability import check_final, frozen_trials, search_cmd, wait_for, wait_for_training  # noqa: E402

pg_only = pytest.mark.parametrize("storage_url", ["postgres"], indirect=True)


# -- pure decisions ----------------------------------------------------------------------------
def test_worker_argv_drops_launch_options_and_runs_quietly_here() -> None:
    argv = ["search", "s.toml", "--launcher", "slurm", "--workers=8", "--gpus-per-worker", "4",
            "--set", "cluster.partition=gpu", "--set", "trainer.epochs=2", "--quiet",
            "--set=study.workers=3", "--ray-address=ray://h:1"]
    assert placement.worker_argv(argv, 2) == [
        "search", "s.toml", "--set", "trainer.epochs=2",
        "--quiet", "--launcher", "local", "--workers", "2"]


def test_a_job_packs_trials_onto_its_gpus() -> None:
    assert placement.processes_per_job(0, 4) == 1
    assert placement.processes_per_job(8, 2) == 4
    assert placement.processes_per_job(4, 3) == 1
    with pytest.raises(ConfigError, match="gpus_per_worker: 2 GPUs cannot hold"):
        placement.processes_per_job(2, 4)


def test_workers_on_other_machines_refuse_a_database_they_cannot_reach() -> None:
    with pytest.raises(ConfigError, match="SQLite file; use a PostgreSQL") as err:
        placement.check_reachable("slurm", True, None, 2, "Slurm nodes")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="this machine's own address"):
        placement.check_reachable("ray", False, "127.0.0.1", 3, "Ray cluster")
    placement.check_reachable("ray", True, None, 1, "a local Ray cluster")  # one machine: fine
    placement.check_reachable("slurm", False, "db.cluster", 2, "Slurm nodes")


def test_jobs_get_a_small_pool_and_a_lease_wait_that_grows_with_the_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOML_STORAGE", "postgresql+psycopg://u@db/x")
    monkeypatch.delenv("AUTOML_DB_POOL_SIZE", raising=False)
    env = placement.job_env(3, 1234.5, 64)
    assert env["AUTOML_STORAGE"] == "postgresql+psycopg://u@db/x"  # Ray workers need it given
    assert env["AUTOML_WORKER"] == "job3" and env["AUTOML_SEARCH_STARTED"] == "1234.5"
    assert env["AUTOML_DB_POOL_SIZE"] == "1"
    assert float(env["AUTOML_DB_LEASE_WAIT"]) == 640
    assert placement.lease_wait(2) == 120


def test_pool_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.errors import StorageError
    from automl.storage.engine import pool_kwargs

    monkeypatch.delenv("AUTOML_DB_POOL_SIZE", raising=False)
    assert pool_kwargs() == {}
    monkeypatch.setenv("AUTOML_DB_POOL_SIZE", "1")
    assert pool_kwargs()["pool_size"] == 1 and pool_kwargs()["max_overflow"] == 1
    monkeypatch.setenv("AUTOML_DB_POOL_SIZE", "lots")
    with pytest.raises(StorageError, match="AUTOML_DB_POOL_SIZE"):
        pool_kwargs()


def test_capacity_check_counts_two_connections_per_worker() -> None:
    placement.check_capacity(None, 1000)  # SQLite: nothing to check
    placement.check_capacity(Connections(limit=97, in_use=5), 46)
    with pytest.raises(ConfigError, match="use at most 46 workers, or raise max_connections"):
        placement.check_capacity(Connections(limit=97, in_use=5), 64)


def test_cluster_section_is_validated_and_not_part_of_the_run(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[cluster]\nlauncher = "slurm"\npartition = "gpu"\ngpus_per_worker = 4\n'
                 'sbatch = { qos = "high" }\nsetup = ["module load cuda"]\n')
    cfg = load(f)
    assert cfg.cluster == ClusterSection(launcher="slurm", partition="gpu", gpus_per_worker=4,
                                         sbatch={"qos": "high"}, setup=("module load cuda",))
    assert fingerprint(cfg) == fingerprint(load(None))  # same search, wherever it runs
    with pytest.raises(ConfigError, match="cluster.launcher"):
        load(None, overrides=["cluster.launcher=kubernetes"])


def test_slurm_parameters_carry_the_study_files_options() -> None:
    from automl.cluster.slurm import slurm_parameters

    c = ClusterSection(launcher="slurm", partition="gpu", account="lab", time_limit_min=600,
                       gpus_per_worker=4, cpus_per_worker=16, sbatch={"qos": "high"})
    p = slurm_parameters(c, "nas")
    assert p["partition"] == "gpu" and p["account"] == "lab" and p["time"] == 600
    assert p["gpus_per_node"] == 4 and p["cpus_per_task"] == 16
    assert p["additional_parameters"] == {"qos": "high"}


def test_slurm_without_slurm_is_a_one_line_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("submitit")
    import shutil

    from automl.cluster.slurm import submit

    if shutil.which("srun"):
        pytest.skip("this machine has Slurm")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="needs a Slurm cluster .* use 'slurm-local'"):
        submit(ClusterSection(launcher="slurm"), "s", [])


def test_help_imports_neither_ray_nor_submitit() -> None:
    code = ("import sys; from automl.cli.app import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['search', '--help']); assert '--launcher' in r.output;"
            " print(sorted({'ray', 'submitit', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_slurm_refuses_a_sqlite_file_in_one_line(cli) -> None:  # noqa: ANN001
    proc = cli("search", "--storage", f"sqlite:///{cli.cwd / 'a.db'}", "--trials", "1",
               "--launcher", "slurm", "--workers", "2", "--set", "search.arch=mlp", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cluster.launcher: 'slurm' runs workers on other")
    assert len(proc.stderr.strip().splitlines()) == 1


# -- real jobs on PostgreSQL ---------------------------------------------------------------------
@pytest.mark.slow
@pg_only
def test_slurm_local_jobs_run_a_search_to_its_exact_count(storage_url: str,
                                                          tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    cmd = search_cmd(storage_url, "sl", 3, "--launcher", "slurm-local", "--workers", "2")
    proc = subprocess.run([c for c in cmd if c != "--quiet"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "slurm-local: 2 worker job(s)" in proc.stdout
    trials = check_final(storage_url, "sl", 3)
    assert len(trials) == 3
    # Real submitit jobs: each left its log and its pickled result (the worker's exit code 0).
    import pickle

    results = sorted((tmp_path / "automl_jobs").glob("*_result.pkl"))
    assert len(results) == 2
    assert all(pickle.loads(r.read_bytes()) == ("success", 0) for r in results)


@pytest.mark.slow
@pg_only
def test_ray_tasks_run_a_search_to_its_exact_count(storage_url: str, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local 2-CPU cluster
    cmd = search_cmd(storage_url, "ray", 3, "--launcher", "ray", "--workers", "2")
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    trials = check_final(storage_url, "ray", 3)
    assert len(trials) == 3


@pytest.mark.slow
@pg_only
def test_a_worker_killed_mid_trial_loses_nothing(storage_url: str, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    # Trials of a few seconds, so the kill lands mid-trial (the victim is picked from the
    # database with half its epochs or more still to train, and killed at once); no pruning:
    # every re-run completes.
    cmd = search_cmd(storage_url, "kill", 3, "--launcher", "slurm-local", "--workers", "2",
                     "--set", "trainer.epochs=24", "--set", "study.pruner=none")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        seen, victim = wait_for_training(storage_url, "kill", range(12), proc)  # of 24
        done_before = {t.number for t in seen if t.state.name == "COMPLETE"}
        os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    trials = check_final(storage_url, "kill", 3)  # exact count, nothing RUNNING or WAITING
    by_number = {t.number: t for t in trials}
    assert by_number[victim.number].state.name == "FAIL"
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retry and retry[0].state.name == "COMPLETE"
    assert all(by_number[n].state.name == "COMPLETE" for n in done_before)  # none lost


@pytest.mark.slow
@pg_only
def test_a_preempted_job_requeues_itself_and_loses_nothing(storage_url: str,
                                                           tmp_path: Path) -> None:
    """SIGUSR2 to a job, as Slurm sends before preemption or the time limit: submitit calls the
    job's checkpoint (the worker stops, its trial is queued again) and requeues the job, which
    finishes the run alone."""
    pytest.importorskip("submitit")
    # As above: the signal comes while the trial has half its epochs or more still to train.
    cmd = search_cmd(storage_url, "pre", 3, "--launcher", "slurm-local", "--workers", "1",
                     "--set", "trainer.epochs=24", "--set", "study.pruner=none")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        _, victim = wait_for_training(storage_url, "pre", range(12), proc)  # of 24 epochs
        worker_pid = int(victim.user_attrs["worker"].rsplit(":", 1)[1])
        job_pid = int(Path(f"/proc/{worker_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(job_pid, signal.SIGUSR2)  # the submitit job process runs the worker
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    trials = check_final(storage_url, "pre", 3)
    by_number = {t.number: t for t in trials}
    assert by_number[victim.number].user_attrs["reason"] == "interrupted"
    assert any(t.user_attrs.get("retry_of") == victim.number and t.state.name == "COMPLETE"
               for t in trials)
    log = next((tmp_path / "automl_jobs").glob("*_0_log.out")).read_text()
    assert "this job is preempted" in log and "Requeued job" in log


@pg_only
def test_a_worker_holds_two_connections_and_the_server_budget_is_read(
        storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl.storage import Storage
    from automl.storage.capacity import database_connections, server_connections

    probe = Storage(storage_url)
    before = database_connections(probe)
    monkeypatch.setenv("AUTOML_DB_POOL_SIZE", "1")
    worker = Storage(storage_url, heartbeat_interval=1, grace_period=3)  # a worker's two engines
    study = worker.create_study("w")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert database_connections(probe) - before <= 2
    conns = server_connections(probe)
    assert conns is not None and conns.limit > conns.in_use >= before
    worker.close()
    probe.close()


@pytest.mark.slow
@pg_only
def test_a_second_ctrl_c_cancels_the_jobs_and_queues_their_trials(storage_url: str,
                                                                 tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    cmd = search_cmd(storage_url, "cancel", 3, "--launcher", "slurm-local", "--workers", "1",
                     "--set", "trainer.epochs=1500", "--set", "study.pruner=none")  # 1-min trials
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for_training(storage_url, "cancel", range(500), proc)
        proc.send_signal(signal.SIGINT)
        # The second Ctrl-C once the first is handled (two at once would be one signal).
        wait_for(lambda: "press Ctrl-C again" in log.read_text(), what="the first Ctrl-C's note")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = log.read_text()
    assert proc.returncode == 130, err
    assert "cancelled the jobs" in err and "Traceback" not in err
    wait_for(lambda: not [t for t in frozen_trials(storage_url, "cancel")
                          if t.state.name == "RUNNING"], timeout=60, what="no trial RUNNING")
    trials = frozen_trials(storage_url, "cancel")
    stopped = [t for t in trials if t.state.name == "FAIL"]
    assert stopped and all(t.user_attrs.get("reason") == "interrupted" for t in stopped)
    assert any(t.state.name == "WAITING" for t in trials)  # queued for the next run
