"""Search behaviours end to end (the real CLI entry point, trainer and SQLite file; nothing
mocked): the single-objective pruners stop trials through ``trial.report``, each sampler runs
a study, the cost limits admit exactly the candidates under them, resume guards refuse what
would mix two searches, and ``study.timeout`` bounds a search.

These check what a search decides, not the process it runs in, so the CLI runs in this
process (``cli_here``: no interpreter start-up and imports per command). Small on purpose:
digits, MLPs, one intra-op thread, a few epochs."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.storage import open_storage
from automl.storage.records import TrialRecord

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(cli_here: Any) -> Any:
    """Every command of this module through the entry point in this process."""
    return cli_here

SMALL = ["--data", "digits", "--set", "search.arch=mlp", "--set", "trainer.num_threads=1"]
TIMEOUT_S = 240  # per command: a hung search fails the test instead of the session


def search(cli: Any, study: str, trials: int, epochs: int, *extra: str,
           check: bool = True, quiet: bool = True) -> Any:
    return cli("search", "--study", study, "--trials", str(trials), "--epochs", str(epochs),
               *SMALL, *(["--quiet"] if quiet else []), *extra, check=check, timeout=TIMEOUT_S)


def records(cwd: Path, study: str) -> list[TrialRecord]:
    store = open_storage(f"sqlite:///{cwd / 'automl.db'}", create=False)
    try:
        return store.trials(study, with_epochs=True)
    finally:
        store.close()


def stored_config(cwd: Path, study: str) -> dict[str, Any]:
    store = open_storage(f"sqlite:///{cwd / 'automl.db'}", create=False)
    try:
        return store.study_config(study)
    finally:
        store.close()


def frozen(cwd: Path, study: str) -> dict[int, Any]:
    """Optuna's own record of each trial (intermediate values, system attributes)."""
    import optuna

    loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{cwd / 'automl.db'}")
    return {t.number: t for t in loaded.get_trials(deepcopy=False)}


def one_line_error(proc: Any) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: "), line
    return line


# (a) Single-objective pruners -------------------------------------------------------------

EPOCHS = 8
# lr down to 1e-5: the slowest learners trail the rest after an epoch or two, so every pruner
# has losers to stop (seeds 0 and 1 each gave 2 to 6 pruned trials of 8 with every pruner).
SLOW_LEARNERS = "search.hparam_options={lr_range=[0.00001, 0.01]}"


@pytest.mark.parametrize("pruner", ["asha", "median", "hyperband"])
def test_pruner_stops_a_single_objective_trial_mid_training(cli: Any, pruner: str) -> None:
    search(cli, pruner, 8, EPOCHS, "--set", "study.objective=val_accuracy",
           "--set", f"study.pruner={pruner}", "--set", "search.adapt_epochs=false",
           "--set", SLOW_LEARNERS)
    trials = records(cli.cwd, pruner)
    optuna_trials = frozen(cli.cwd, pruner)
    assert len(trials) == 8 and stored_config(cli.cwd, pruner)["study"]["pruner"] == pruner
    pruned = [t for t in trials if t.state == "PRUNED"]
    complete = [t for t in trials if t.state == "COMPLETE"]
    assert pruned and complete, [(t.number, t.state, t.reason) for t in trials]
    for t in pruned:
        last = max(e.epoch for e in t.epochs)
        assert 1 <= last < EPOCHS  # stopped mid-training, not before it nor at its end
        assert t.reason == f"pruned by {pruner} at epoch {last}"
        # What the trainer reported through trial.report, epoch by epoch, up to the stop.
        reported = optuna_trials[t.number].intermediate_values
        assert sorted(reported) == [e.epoch for e in t.epochs] == list(range(1, last + 1))
        assert [reported[e.epoch] for e in t.epochs] == [e.val_accuracy for e in t.epochs]
    for t in complete:
        assert [e.epoch for e in t.epochs] == list(range(1, EPOCHS + 1))
        assert sorted(optuna_trials[t.number].intermediate_values) == list(range(1, EPOCHS + 1))


# (b) Samplers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("sampler", "objective", "trace"), [
    ("nsga2", "pareto", "NSGAIISampler:generation"),  # NSGA-II tags each trial's generation
    ("random", "pareto", None),
    ("cmaes", "val_accuracy", "cma:generation"),  # CMA-ES tags trials it sampled itself
])
def test_sampler_runs_a_study_end_to_end(cli: Any, sampler: str, objective: str,
                                         trace: str | None) -> None:
    # No pruner: every candidate completes, whatever the sampler proposes.
    out = search(cli, sampler, 5, 2, "--set", f"study.sampler={sampler}",
                 "--set", f"study.objective={objective}", "--set", "study.pruner=none",
                 quiet=False)
    assert "5 trials run here; study has 5 complete." in out.stdout
    trials = records(cli.cwd, sampler)
    assert [t.state for t in trials] == ["COMPLETE"] * 5, [(t.state, t.reason) for t in trials]
    study = stored_config(cli.cwd, sampler)["study"]
    assert (study["sampler"], study["objective"]) == (sampler, objective)
    optuna_trials = frozen(cli.cwd, sampler)
    if trace is not None:  # proof that this sampler, not a default, proposed the candidates
        assert any(any(k.startswith(trace) for k in t.system_attrs)
                   for t in optuna_trials.values()), trace
    else:  # TPE or NSGA-II would have left their marks
        assert not any(":generation" in k for t in optuna_trials.values()
                       for k in t.system_attrs)
    n_values = 2 if objective == "pareto" else 1
    for t in trials:
        assert len(t.values or ()) == n_values and t.values[0] == t.val_accuracy
        # The stored accuracy is that of the kept (best) epoch of the stored curve; epoch 0 is
        # a fitted start (rocket's ridge head) that no epoch beat.
        if t.best_epoch == 0:
            assert t.val_accuracy > max(e.val_accuracy for e in t.epochs)
        else:
            assert t.val_accuracy == max(e.val_accuracy for e in t.epochs)
            assert t.val_accuracy == t.epochs[t.best_epoch - 1].val_accuracy
    # Digits has 10 balanced classes (chance 0.1); two epochs of an MLP reach far beyond.
    assert max(t.val_accuracy for t in trials) > 0.8
    # The leaderboard the search prints at its end: every trial, ranked.
    board = out.stdout[out.stdout.index(f"{sampler}: top 10"):]
    assert sum(" complete " in line for line in board.splitlines()) == 5, out.stdout
    best = max(trials, key=lambda t: t.val_accuracy or 0.0)
    assert f"{best.val_accuracy:.4f}" in board


# (c) Cost limits --------------------------------------------------------------------------

COSTS = {"max_flops": "flops", "max_latency_ms": "latency_ms", "max_memory_mb": "peak_memory_mb"}


def test_cost_limits_admit_exactly_the_candidates_under_them(cli: Any) -> None:
    # Generous limits let every candidate run; their costs place the tighter limits below.
    generous = ["--set", "limits.max_flops=1000000000", "--set", "limits.max_latency_ms=10000",
                "--set", "limits.max_memory_mb=100000"]
    search(cli, "free", 6, 1, *generous)
    free = records(cli.cwd, "free")
    assert [t.state for t in free] == ["COMPLETE"] * 6, [(t.state, t.reason) for t in free]
    for limit, key in COSTS.items():
        costs = sorted(getattr(t, key) for t in free)
        assert costs[0] > 0, (key, costs)
        # Halfway (geometrically) between the cheapest and the dearest candidate: the same seed
        # proposes the same first candidates, so some fall on each side.
        between = math.sqrt(costs[0] * costs[-1])
        assert costs[0] < between < costs[-1], (key, costs)
        value = str(int(between)) if limit == "max_flops" else f"{between:.6g}"
        study = f"between-{key}"
        search(cli, study, 6, 1, "--set", f"limits.{limit}={value}")
        trials = records(cli.cwd, study)
        assert len(trials) == 6
        complete = [t for t in trials if t.state == "COMPLETE"]
        over = [t for t in trials if t.state == "PRUNED"]
        if key != "latency_ms":
            assert complete, (key, between, [(t.state, t.reason) for t in trials])
            assert over, (key, between, [getattr(t, key) for t in trials])
        # Latency is measured again in this run, tenths of a millisecond apart: on a loaded
        # machine every candidate may land on one side of the limit (0.03-0.08 ms against a
        # limit of 0.085, then 0.062-0.064 against 0.049). What holds is the rule, per trial:
        # under the limit completes, over it is pruned, by its own measurement (below).
        assert all(getattr(t, key) <= float(value) for t in complete), key
        for t in over:
            assert f"> limits.{limit} " in (t.reason or "")
            assert t.artifact_path is None  # no weights kept for a candidate over a limit
            if key == "peak_memory_mb" and t.peak_memory_mb is None:
                # Well over the limit by its estimate (issue 24): pruned before training.
                assert (t.reason or "").startswith("over budget: estimated peak_memory_mb ")
                assert not t.epochs and t.train_seconds is None
                continue
            assert getattr(t, key) > float(value)
            assert (t.reason or "").startswith(f"over budget: {key} "), t.reason
            if key != "peak_memory_mb":  # known before training: never trained
                assert not t.epochs and t.train_seconds is None
            else:  # the measured peak is known once trained: pruned then
                assert t.epochs


def test_a_limit_below_every_candidate(cli: Any) -> None:
    # FLOPs are known without training: a limit nothing meets is refused before any trial.
    proc = search(cli, "none-fits", 3, 1, "--set", "limits.max_flops=10", check=False)
    line = one_line_error(proc)
    assert "limits.max_flops: no candidate of search.arch 'mlp' meets 10" in line
    # Latency is measured on a built model: every candidate is pruned before training.
    search(cli, "lat", 3, 2, "--set", "limits.max_latency_ms=0.000001")
    for t in records(cli.cwd, "lat"):
        assert t.state == "PRUNED" and t.latency_ms is not None and t.latency_ms > 1e-6
        assert (t.reason or "").startswith("over budget: latency_ms "), t.reason
        assert "> limits.max_latency_ms 1e-06 ms" in (t.reason or "")
        assert not t.epochs and t.train_seconds is None and t.artifact_path is None
    # (Peak memory is measured once trained: the limit between candidates in the test above
    # shows those over it pruned after training, their weights not kept, or before training
    # when their estimate is well over it; tests/automl/test_memory_checks.py refuses a limit
    # below every candidate's estimate.)


# (d) Resume guards ------------------------------------------------------------------------

def test_resume_guards_refuse_other_data_and_another_cost(cli: Any) -> None:
    search(cli, "g", 2, 1)
    # Other data: the first 1,000 digits, as a file.
    from sklearn.datasets import load_digits

    digits = load_digits()
    other = cli.cwd / "other.npz"
    np.savez(other, x=digits.images[:1000, None].astype(np.float32), y=digits.target[:1000])
    proc = cli("search", "--study", "g", "--trials", "3", "--epochs", "1", "--data", str(other),
               "--set", "search.arch=mlp", "--quiet", check=False, timeout=TIMEOUT_S)
    line = one_line_error(proc)
    assert "data.source: study 'g' was searched on different data" in line
    assert "use another study.name" in line
    # Another cost to minimize.
    line = one_line_error(search(cli, "g", 3, 1, "--set", "study.cost=params", check=False))
    assert line == "error: study.cost: study 'g' minimizes 'flops', not 'params'"
    # Nothing refused was written: still the first two trials.
    assert len(records(cli.cwd, "g")) == 2
    # The same data and settings resume the study: --trials 3 extends the run to 3.
    search(cli, "g", 3, 1)
    assert [t.state for t in records(cli.cwd, "g")] == ["COMPLETE"] * 3


# (e) study.timeout ------------------------------------------------------------------------

def test_study_timeout_from_the_study_file_bounds_the_search(cli: Any) -> None:
    budget = 15
    # Fixed, short candidates (3 epochs, not scaled up to the data): several fit the budget.
    (cli.cwd / "t.toml").write_text(
        f'[study]\nname = "t"\ntrials = 1000\ntimeout = {budget}\n'
        '[data]\nsource = "digits"\n'
        '[search]\narch = "mlp"\nadapt_epochs = false\n'
        '[trainer]\nepochs = 3\nnum_threads = 1\n')
    start = time.monotonic()
    cli("search", "t.toml", "--quiet", timeout=TIMEOUT_S)
    wall = time.monotonic() - start
    assert stored_config(cli.cwd, "t")["study"]["timeout"] == budget
    trials = records(cli.cwd, "t")
    assert len(trials) > 1 and len(trials) < 1000
    assert not [t for t in trials if t.state in ("RUNNING", "WAITING")]
    slowest_epoch = max(e.seconds for t in trials for e in t.epochs)
    # The budget, plus one epoch of the slowest candidate (the deadline is checked after each
    # epoch), plus the checks before the first trial and the last writes on a loaded 2-core
    # machine (the deadline's rule itself is tested exactly under an injected clock in
    # test_decisions.py; this is the real clock's end-to-end check).
    assert wall <= budget + slowest_epoch + 8, (wall, slowest_epoch)
