"""The default search end to end (real CLI entry point, trainer and SQLite): Pareto pruning,
the deadline, repeated candidates answered from the database, a rocket search exported. These
run the CLI in this process (``cli_here``); two workers need real processes (``cli``)."""

from __future__ import annotations

import re
import time

import pytest

from automl.storage import open_storage

pytestmark = pytest.mark.slow


def _trials(cwd, study: str):  # noqa: ANN001, ANN202
    store = open_storage(f"sqlite:///{cwd / 'automl.db'}", create=False)
    try:
        return store.trials(study, with_epochs=True)
    finally:
        store.close()


def test_pareto_search_prunes_candidates_at_rungs(cli_here) -> None:  # noqa: ANN001
    cli = cli_here  # what the search decides: in this process
    # 7 trials: the default space's first candidates are small MLPs, so each trial takes a
    # second or two; from the fourth on, a candidate meets the earlier ones at the rung.
    cli("search", "--data", "digits", "--study", "mo", "--trials", "7", "--epochs", "9",
        "--quiet", "--set", "trainer.num_threads=1")
    trials = _trials(cli.cwd, "mo")
    pruned = [t for t in trials if t.state == "PRUNED"]
    complete = [t for t in trials if t.state == "COMPLETE"]
    assert len(trials) == 7 and complete and pruned, [(t.state, t.reason) for t in trials]
    for t in pruned:
        found = re.match(r"pruned by mo-asha at rung 1 \(epoch (\d+)\): ", t.reason or "")
        assert found, t.reason
        rung = int(found.group(1))
        assert 1 <= rung < 9 and max(e.epoch for e in t.epochs) == rung  # stopped at the rung
    assert all(max(e.epoch for e in t.epochs) == 9 for t in complete)
    # Each trained candidate stores its recent validation accuracy (the tie-break of `best`).
    for t in complete:
        last = [e.val_accuracy for e in t.epochs][-3:]
        assert t.val_recent == pytest.approx(sum(last) / 3)
    rows = cli.json("leaderboard", "mo")
    assert any("mo-asha" in (r["reason"] or "") for r in rows)


def test_timeout_bounds_the_whole_search(cli_here) -> None:  # noqa: ANN001
    cli = cli_here  # what the search decides: in this process
    # 10 s: the default space's first candidates train in a second or two, so several
    # trials run, and one is still training when the deadline comes.
    start = time.monotonic()
    cli("search", "--data", "digits", "--study", "dl", "--timeout", "10", "--trials", "1000",
        "--quiet")
    wall = time.monotonic() - start
    trials = _trials(cli.cwd, "dl")
    assert not [t for t in trials if t.state in ("RUNNING", "WAITING")]
    assert len(trials) > 1
    slowest_epoch = max(e.seconds for t in trials for e in t.epochs)
    # 10 s, plus one epoch of the slowest candidate, plus interpreter start-up and the
    # database's last writes (a few seconds on a loaded 2-core machine).
    assert wall <= 10 + slowest_epoch + 6, (wall, slowest_epoch)
    stopped = [t for t in trials if (t.reason or "").startswith("deadline")]
    for t in stopped:  # kept, with the figures of their best epoch so far
        assert t.state == "COMPLETE" and t.val_accuracy is not None and t.artifact_path


def test_a_repeated_candidate_is_answered_from_the_database(cli_here) -> None:  # noqa: ANN001
    cli = cli_here  # what the search decides: in this process
    # A space with a single candidate: every proposal after the first repeats it.
    cli("search", "--data", "digits", "--study", "dup", "--trials", "3", "--epochs", "2",
        "--quiet",
        "--set", "search.arch=mlp", "--set", "search.loss=fixed_ce",
        "--set", "search.arch_options={min_layers=1, max_layers=1, widths=[32], "
                 "activations=['relu'], norms=['none'], dropout_max=0.0}",
        "--set", "search.hparam_options={optimizers=['adamw'], lr_range=[0.01, 0.01], "
                 "weight_decay_range=[0.0001, 0.0001], batch_sizes=[64]}")
    trials = _trials(cli.cwd, "dup")
    assert [t.state for t in trials] == ["COMPLETE"] * 3
    first, *repeats = trials
    assert first.epochs and first.duplicate_of is None
    for t in repeats:
        assert t.duplicate_of == 0 and not t.epochs  # not trained again
        assert t.values == first.values and t.test_accuracy == first.test_accuracy
    rows = cli.json("leaderboard", "dup")
    ranked = [r for r in rows if r["rank"] is not None]
    assert [r["trial"] for r in ranked] == [0]  # a repeat is listed, not ranked twice
    assert sorted(r["reason"] for r in rows if r["trial"] != 0) == ["duplicate of trial 0"] * 2


def test_pareto_pruning_with_two_workers_counts_exactly(cli) -> None:  # noqa: ANN001
    import optuna

    # MLPs only (the default space's 2-D CNNs take five times as long a trial, and the family
    # is not what is counted): 16 trials of about a second, so the second worker, started once
    # the first has prepared the search, still finds several to run; from about the seventh on,
    # candidates meet enough others at the rung to be pruned (usually 3 to 5 of them).
    cli("search", "--data", "digits", "--study", "mow", "--trials", "16", "--epochs", "9",
        "--workers", "2", "--quiet", "--set", "search.arch=mlp",
        "--set", "trainer.num_threads=1", "--set", "trainer.latency_repeats=3")
    trials = _trials(cli.cwd, "mow")
    finished = [t for t in trials if t.state in ("COMPLETE", "PRUNED")]
    assert len(finished) == 16 and not [t for t in trials if t.state == "RUNNING"]
    frozen = optuna.load_study(study_name="mow", storage=f"sqlite:///{cli.cwd / 'automl.db'}")
    worker = {t.number: t.user_attrs.get("worker") for t in frozen.get_trials()}
    assert len(set(worker.values())) == 2  # both workers ran trials
    pruned = [t for t in trials if t.state == "PRUNED"]
    assert pruned and all("mo-asha" in (t.reason or "") for t in pruned)


def test_rung_standings_read_every_trial_that_reached_the_rung(tmp_path) -> None:  # noqa: ANN001
    # What a rung decision compares, straight from the database: every trial that reached the
    # epoch, whoever wrote it, with its best accuracy up to that epoch (the mean accuracy so far
    # breaking ties, never the loss).
    from automl.storage.candidates import rung_entries

    store = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    epochs = {0: [0.5, 0.8, 0.7], 1: [0.6, 0.8], 2: [0.9], 3: [0.4, 0.6, 0.9]}
    # Trial 0's losses are the lowest: they must not matter.
    for n, accs in epochs.items():
        store.update_trial("s", n, flops=1000.0 * (n + 1),
                           arch={"kind": "mlp" if n % 2 else "cnn1d"})
        for e, acc in enumerate(accs, start=1):
            store.add_epoch("s", n, e, 1.0, acc, 0.1, val_loss=0.01 if n == 0 else 1.0)
    rows = {n: (acc, cost, kind) for n, acc, cost, kind in rung_entries(store, "s", 2, "flops")}
    assert set(rows) == {0, 1, 3}  # trial 2 never reached epoch 2
    assert rows[0][0] == pytest.approx(0.8) and rows[1][0] == pytest.approx(0.8)
    assert rows[1][0] > rows[0][0]  # equal best: the higher mean so far (0.7 > 0.65) ranks higher
    assert rows[3][0] == pytest.approx(0.6)  # epoch 3's 0.9 is past the rung
    assert (rows[0][1], rows[0][2], rows[1][2]) == (1000.0, "cnn1d", "mlp")
    store.close()


def test_a_rocket_search_trains_exports_and_predicts(cli_here) -> None:  # noqa: ANN001
    cli = cli_here  # what the search decides: in this process
    """The rocket family through every stage: fitted biases stored with the weights, the bundle
    verified against the search's own test figure, ONNX predictions on new series."""
    import json

    import numpy as np

    def bumps(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, n)
        centre = np.where(y == 0, 15, 42)[:, None] + rng.integers(-3, 4, (n, 1))
        t = np.arange(60)[None]
        x = np.exp(-0.5 * ((t - centre) / 2.0) ** 2) + 0.3 * rng.standard_normal((n, 60))
        return x.astype(np.float32), y

    x, y = bumps(240, 0)
    np.savez(cli.cwd / "sig.npz", x=x, y=y)
    cli("search", "--data", "sig.npz", "--study", "rk", "--trials", "2", "--epochs", "6",
        "--quiet", "--set", 'search.arch="rocket"', "--set", "trainer.num_threads=1")
    trials = _trials(cli.cwd, "rk")
    # The second may be pruned: both start from the ridge fit, so it can be level and dearer.
    assert trials[0].state == "COMPLETE" and trials[1].state in ("COMPLETE", "PRUNED")
    assert all(t.arch["kind"] == "rocket" for t in trials)
    # Its feature fit and test scoring are timed outside the epochs (the refit's estimate).
    assert trials[0].lead_seconds is not None and trials[0].lead_seconds > 0
    cli("export", "rk", "--trial", "best", "--out", "bundle")
    spec = json.loads((cli.cwd / "bundle" / "spec.json").read_text())
    check = spec["verification"]
    assert spec["arch"]["kind"] == "rocket" and check["onnx_max_abs_diff"] <= 1e-4
    # It read the series as shipped: the per-step standardization of flat samples is undone
    # inside the network (and so inside the ONNX graph), from the bundle's own statistics.
    from search_spaces.base import series_affine
    affine = series_affine(spec["preprocessing"])
    assert affine is not None and len(affine[0]) == 60
    assert (tuple(spec["arch"]["input_scale"]), tuple(spec["arch"]["input_shift"])) == affine
    # The bundle's biases are the fitted ones: re-loading it gives the search's test accuracy.
    assert abs(check["torch_test_accuracy"] - spec["metrics"]["test_accuracy"]) <= 1 / 36
    assert spec["metrics"]["test_accuracy"] >= 0.9  # chance is 0.5
    new_x, new_y = bumps(50, 1)
    np.savez(cli.cwd / "new.npz", x=new_x, y=new_y)
    result = cli.json("predict", "bundle", "new.npz", "--backend", "onnx")
    assert len(result["labels"]) == 50 and result["accuracy"] >= 0.9
