"""End-to-end: the real CLI, the real trainer, a real SQLite file (no mocks). A first search and
its read-back run as a user runs them, in new processes, and so does each command's first
one-line error (what a real stderr shows); what the searches decide after that (resuming,
pruning by limits) and the other errors run through the same entry point in this process
(``cli_here``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KEYS = {
    "trial",
    "state",
    "val_accuracy",
    "test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "train_seconds",
    "pareto",
    "arch",
    "loss",
    "loss_formula",
}


def test_search_then_read_back_and_resume(cli, cli_here) -> None:  # noqa: ANN001
    def search(trials: int, *extra: str, runner=cli_here):  # noqa: ANN001, ANN202
        return runner(
            "search", "--data", "digits", "--study", "e2e", "--trials", str(trials),
            "--epochs", "2", "--set", "search.arch=mlp", *extra,
        )  # fmt: skip

    # As a user runs it: a new process, its human output, a default database ...
    out = search(3, "--set", "trainer.num_threads=1", runner=cli)
    assert "e2e: top 10" in out.stdout
    assert (cli.cwd / "automl.db").exists()  # the default storage, in the working directory
    rows = cli.json("leaderboard", "e2e")  # ... and nothing but JSON on a real stdout
    assert len(rows) == 3 and all(KEYS <= set(r) for r in rows)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert complete, rows
    # Ten classes: chance is 0.1; even a short search on digits reaches far beyond it.
    assert max(r["val_accuracy"] for r in complete) > 0.5, complete
    for r in complete:
        assert r["params"] > 0 and r["flops"] > 0 and r["latency_ms"] > 0
        assert r["arch"]["kind"] == "mlp" and r["loss_formula"]
    assert any(r["pareto"] for r in complete)
    # Resume (in this process, on the same folder): the same command adds trials to the
    # same study.
    assert cli_here.cwd == cli.cwd
    cli = cli_here
    search(2, "--quiet")
    assert len(cli.json("leaderboard", "e2e")) == 5
    # The very same command once more: its run is complete, so nothing is added (a command
    # killed just after its last trial can be repeated safely) ...
    again = search(2, "--quiet")
    assert "raise --trials to add more" in again.stdout
    assert len(cli.json("leaderboard", "e2e")) == 5
    # ... and a larger --trials extends that run.
    search(3, "--quiet")
    assert len(cli.json("leaderboard", "e2e")) == 6
    # For programs: the same result as JSON (what the Python API's search returns).
    result = json.loads(search(3, "--json").stdout)
    assert (result["study"], result["trials_run"], result["resumed"]) == ("e2e", 0, True)
    assert sum(result["states"].values()) == 6 and len(result["leaderboard"]) == 6
    assert result["best"]["number"] in {r["trial"] for r in result["leaderboard"]}
    [summary] = cli.json("studies")
    assert summary["name"] == "e2e" and summary["n_trials"] == 6
    detail = cli.json("show", "e2e", str(complete[0]["trial"]))
    assert len(detail["epochs"]) >= 1 and detail["preprocessing"]["axis"] == "channel"
    weights = Path(detail["artifact_path"])
    assert weights.is_file() and weights.suffix == ".safetensors"
    pareto = cli.json("leaderboard", "e2e", "--pareto")
    assert pareto and all(r["pareto"] for r in pareto)


def test_limits_prune_before_training_and_single_objective(cli_here) -> None:  # noqa: ANN001
    cli = cli_here  # what the search decides: in this process
    cli(
        "search",
        "--data",
        "digits",
        "--study",
        "lim",
        "--trials",
        "3",
        "--epochs",
        "2",
        "--set",
        "search.arch=cnn2d",
        "--set",
        "limits.max_params=1000",
        "--set",
        "study.objective=val_accuracy",
        "--quiet",
    )
    rows = cli.json("leaderboard", "lim")
    assert {r["state"] for r in rows} == {"PRUNED"}
    for r in rows:
        assert r["reason"].startswith("over budget: params")
        assert r["train_seconds"] is None  # never trained


def test_bad_input_is_one_line_and_nonzero(cli, cli_here) -> None:  # noqa: ANN001
    cases = [
        (["search", "--set", "study.sampler=bayes"], "study.sampler: 'bayes' is not allowed"),
        (["search", "--data", "missing.npz"], "missing.npz: data file not found"),
        (["search", "--set", "search.arch=resnet9000"], "search.arch: unknown"),
        (
            ["search", "--set", "search.arch=cnn2d", "--set", "search.arch_options.depth=3"],
            "search.arch_options.depth: unknown option",
        ),
        (["leaderboard", "nope", "--storage", "sqlite:///absent.db"], "database file not found"),
        (["studies", "--storage", "postgresql://u:hunter2@127.0.0.1:1/x"], "postgresql://u:***@"),
    ]
    commands: set[str] = set()
    for args, expected in cases:
        # Each command's first error as a user meets it, in a new process (what a real stderr
        # shows, its imports' noise included); the others' messages and exit codes through
        # the same entry point in this process.
        proc = (cli_here if args[0] in commands else cli)(*args, check=False)
        commands.add(args[0])
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, proc.stderr)
        assert expected in lines[0], (args, lines[0])
        assert "hunter2" not in proc.stderr + proc.stdout


def test_help_does_not_import_torch() -> None:
    # Read at exit: the console script leaves through its exit handlers, then os._exit.
    code = (
        "import atexit, sys, runpy; sys.argv=['automl', '--help']\n"
        "atexit.register(lambda: print('IMPORTED', [m for m in ('torch', 'optuna', "
        "'sqlalchemy', 'streamlit') if m in sys.modules]))\n"
        "runpy.run_module('automl', run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "IMPORTED []" in out.stdout, out.stdout
