"""The search's decisions, run in this process through the objective's injected training function
(:mod:`tests.automl.decision_kit`): the same decisions as before the rooms of issue 20, the
plan's rungs, who is cross-validated, the cheap start, and the deadline under an injected clock.
Real Optuna, real SQLite, real cost measurement; only the training is a stand-in."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import decision_kit as kit
import pytest

from automl.config import load
from automl.control.controller import run_search
from automl.data import load_data
from automl.policy.budget import first_rung, hparam_options_for, steps_per_epoch
from automl.policy.plan import make_plan
from automl.storage import open_storage

GOLDEN = Path(__file__).parent / "data" / "decisions.json"


def _search(cfg: Any, tmp: Path, **kw: Any) -> list[Any]:
    d = cfg.data
    data = load_data(d.source, d.val_fraction, d.test_fraction, cfg.study.seed, d.standardize)
    store = open_storage(cfg.study.storage, artifacts=str(tmp / "art"))
    try:
        run_search(cfg, store, data, train=kw.pop("train", kit.fake_train), **kw)
        return store.trials(cfg.study.name, with_epochs=True)
    finally:
        store.close()


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> str:
    return kit.small_digits(tmp_path_factory.mktemp("data") / "digits360.npz")


@pytest.fixture(scope="module")
def runs(digits_npz: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    tmp = tmp_path_factory.mktemp("runs")
    return {name: _search(kit.case_config(name, digits_npz, f"sqlite:///{tmp}/{name}.db"), tmp)
            for name in kit.CASES}


@pytest.mark.parametrize("case", sorted(kit.CASES))
def test_same_decisions_as_before_the_rooms(case: str, runs: dict[str, list[Any]]) -> None:
    # Recorded from the code before issue 20 (trainer.train patched with the same stand-in):
    # sampling, cheap start, repeats, MO-ASHA / median pruning and cross-validation agree.
    assert kit.decisions(runs[case]) == json.loads(GOLDEN.read_text())[case]


def test_pareto_candidates_stop_only_at_the_plans_rungs(runs: dict[str, list[Any]]) -> None:
    pruned = [r for r in runs["pareto"] if r.state == "PRUNED"]
    assert pruned, "the recorded Pareto search prunes some candidates"
    done = [r for r in runs["pareto"] if r.state == "COMPLETE"]
    full = {r.train_config["epochs"] for r in runs["pareto"]}
    assert len(full) == 1
    # Worked out by hand: 360 digits less 54 for test and 53 for validation leave 253
    # training samples; the middle scaled batch size is 16, so 16 steps an epoch; 300 steps
    # (MIN_STEPS) need 19 epochs, 50 steps (MIN_RUNG_STEPS) 4, and rungs grow by ETA = 3.
    assert full == {19}
    epochs, rungs = 19, [4, 12]
    for r in pruned:
        assert r.reason.startswith("pruned by mo-asha")
        assert len(r.epochs) in rungs, (r.number, len(r.epochs), rungs)
    assert all(len(r.epochs) == epochs for r in done)


def test_only_contenders_are_cross_validated(runs: dict[str, list[Any]]) -> None:
    for case in kit.CASES:
        best: float | None = None
        for r in sorted(runs[case], key=lambda r: r.datetime_complete or r.datetime_start):
            if r.state != "COMPLETE":
                continue
            one = 1.0 / r.val_samples
            contender = best is not None and r.val_accuracy >= best - one - 1e-12
            if r.cv_accuracy is not None or r.cv_skipped is not None:
                assert contender, (case, r.number, r.val_accuracy, best)
            if contender:  # folds, or the reason it has none (raced out, no time, deadline)
                assert (r.cv_accuracy is None) != (r.cv_skipped is None), (case, r.number)
                assert r.validation.startswith("holdout; folds " if r.cv_skipped else "5-fold CV")
            best = r.val_accuracy if best is None else max(best, r.val_accuracy)
    every = [r for rs in runs.values() for r in rs]
    assert any(r.cv_accuracy is not None for r in every)
    assert any((r.cv_skipped or "").startswith("raced out after fold") for r in every)


def test_a_new_pareto_search_starts_with_the_cheapest_of_each_family(
        runs: dict[str, list[Any]]) -> None:
    trials = sorted(runs["pareto"], key=lambda r: r.number)
    first_two = trials[:2]
    assert {r.arch["kind"] for r in first_two} == {r.arch["kind"] for r in trials}
    for r in first_two:
        same = [t.flops for t in trials if t.arch["kind"] == r.arch["kind"]]
        assert r.flops == min(same), (r.number, r.arch["kind"])
    assert first_two[0].flops <= first_two[1].flops  # cheapest family first


def test_the_plan_is_the_one_source_of_epochs_and_rungs(digits_npz: str, tmp_path: Path
                                                        ) -> None:
    cfg = kit.case_config("pareto", digits_npz, f"sqlite:///{tmp_path}/p.db")
    d = cfg.data
    splits = load_data(d.source, d.val_fraction, d.test_fraction, 0, d.standardize).splits
    plan = make_plan(cfg, splits)
    n = len(splits.y_train)
    steps = steps_per_epoch(n, hparam_options_for(cfg, n)["batch_sizes"])
    assert plan.steps_per_epoch == steps
    assert plan.first_rung == first_rung(plan.epochs, steps)
    assert plan.rungs[0] == plan.first_rung and all(
        b == 3 * a for a, b in zip(plan.rungs, plan.rungs[1:], strict=False))
    assert plan.rungs[-1] < plan.epochs <= 3 * plan.rungs[-1]
    assert plan.cv_folds == 5  # 360 samples, the smallest class has 30: small data
    single = load(None, {"data.source": digits_npz, "study.objective": "val_accuracy"})
    assert make_plan(single, splits).rungs == ()  # Optuna's pruner decides there


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("prefit", "postfit", "timeout"),
                         [(0.0, 0.0, 40.0), (3.0, 0.0, 40.0), (3.0, 2.0, 60.0)])
def test_the_deadline_holds_under_an_injected_clock(digits_npz: str, tmp_path: Path,
                                                    prefit: float, postfit: float,
                                                    timeout: float) -> None:
    # Each epoch takes 1 s; with prefit, 3 s more pass before the first epoch (rocket fits its
    # ridge head there, outside the epoch timer), and with postfit 2 s after the last (the test
    # split's scoring: rocket's features of it). Small data: contenders are cross-validated,
    # and their folds take the clock too.
    clock = FakeClock()

    def train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None, **kw: Any
              ) -> Any:
        clock.advance(prefit)
        result = kit.fake_train(arch, loss, data, cfg, on_epoch, clock=clock.advance,
                                epoch_seconds=1.0)
        clock.advance(postfit)
        return result

    # No loss probes: their two candidates can end the search just before T, and this test
    # wants one cut at T (the probes' own deadline is tested in test_loss_search.py). No strong
    # starts either: trained in full, they fill these 40 s (tests/automl/test_family_race.py);
    # and no refit, whose reserve moves the trials' T earlier (tests/automl/test_refit.py).
    cfg = load(None, {"study.name": "deadline", "study.storage": f"sqlite:///{tmp_path}/d.db",
                      "data.source": digits_npz, "study.trials": 200, "study.timeout": timeout,
                      "trainer.epochs": 9, "trainer.latency_repeats": 1,
                      "search.loss_probes": False, "search.family_start": False,
                      "search.refit": False})
    start = clock()
    trials = _search(cfg, tmp_path, train=train, started=start, clock=clock)
    finished = [r for r in trials if r.state in ("COMPLETE", "PRUNED")]
    assert 3 <= len(finished) < 200, "the deadline, not the trial count, ended the search"
    # The documented rule: no candidate starts with less than its family's lead-in (here the
    # prefit, measured on the first candidates) and one typical epoch left, and a running one
    # stops after its current epoch (this stand-in ignores stop_at's batch boundary: see the
    # next test); no cross-validation fold starts that would not fit, its lead-in counted. So
    # the search overruns T by at most one epoch.
    assert clock() - start <= timeout + 1.0, clock() - start
    stopped = [r for r in trials if (r.reason or "").startswith("deadline")]
    assert stopped, "a candidate was running at T and was stopped there, not finished"
    for r in stopped:
        assert len(r.epochs) < r.train_config["epochs"]
    # A full candidate takes at most 1/8 of the budget once epochs are measured (FULL_SHARE).
    capped = [r.train_config["epochs"] for r in trials[3:] if r.train_config]
    assert capped and max(capped) <= max(timeout / 8 / 1.0, plan_first(cfg, digits_npz))


def plan_first(cfg: Any, source: str) -> int:
    d = cfg.data
    splits = load_data(source, d.val_fraction, d.test_fraction, 0, d.standardize).splits
    return make_plan(cfg, splits).first_rung


def test_a_timeout_without_a_trial_count_searches_until_the_clock_ends(digits_npz: str,
                                                                       tmp_path: Path) -> None:
    # Before, the default of 20 trials ended such a search early (credit: at 44 s of 60).
    clock, timeout = FakeClock(), 24.0

    def train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None, **kw: Any
              ) -> Any:
        return kit.fake_train(arch, loss, data, cfg, on_epoch, clock=clock.advance,
                              epoch_seconds=1.0)

    cfg = _plain_timed(digits_npz, tmp_path, timeout, epochs=1)
    assert cfg.study.trials is None
    start = clock()
    trials = _search(cfg, tmp_path, train=train, started=start, clock=clock)
    finished = [r for r in trials if r.state in ("COMPLETE", "PRUNED")]
    assert len(finished) > 20, len(finished)
    assert timeout - 1.0 <= clock() - start <= timeout + 1.0, clock() - start


def test_a_long_epoch_under_way_at_the_deadline_stops_at_a_batch(digits_npz: str,
                                                                 tmp_path: Path) -> None:
    # Epochs of 6 s (6 batches of 1 s), as on long series: without stop_at a candidate that
    # starts its epoch just before T ran up to 6 s past it. The stand-in honours stop_at as
    # the trainer does (tests/trainer/test_stop_at.py): at the next batch, the epoch under way
    # dropped, DeadlineStop when none had ended.
    import time

    from trainer import DeadlineStop

    clock, timeout = FakeClock(), 40.0

    def train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None,
              stop_at: float | None = None, **kw: Any) -> Any:
        budget = math.inf if stop_at is None else stop_at - time.time()  # in the fake clock
        began, done = clock(), 0
        while done < cfg.epochs:
            for batch in range(6):
                if clock() - began > budget:
                    if not done:
                        raise DeadlineStop(done + 1, 6 * done + batch)
                    part = kit.fake_train(arch, loss, data, dataclasses.replace(cfg, epochs=done))
                    return dataclasses.replace(part, stopped_early=True)
                clock.advance(1.0)
            done += 1
            if on_epoch and on_epoch(kit.fake_train(arch, loss, data, dataclasses.replace(
                    cfg, epochs=done)).history[-1]):
                break
        return kit.fake_train(arch, loss, data, dataclasses.replace(cfg, epochs=done),
                              on_epoch=None)

    cfg = _plain_timed(digits_npz, tmp_path, timeout, epochs=4)
    start = clock()
    trials = _search(cfg, tmp_path, train=train, started=start, clock=clock)
    assert clock() - start <= timeout + 1.0, clock() - start  # one batch, not one epoch
    cut = [r for r in trials if (r.reason or "").startswith("deadline")]
    assert cut, [(r.state, r.reason) for r in trials]
    for r in cut:  # kept with its finished epochs, or pruned when none had ended
        assert (r.state == "COMPLETE" and "stopped in epoch" in r.reason) or (
            r.state == "PRUNED" and "before any epoch ended" in r.reason), r.reason


def _plain_timed(source: str, tmp: Path, timeout: float, epochs: int) -> Any:
    """A timed search of fixed-length candidates, without the extras that spend time on their
    own (probes, strong starts, refit, folds): the deadline's rules alone."""
    return load(None, {"study.name": "timed", "study.storage": f"sqlite:///{tmp}/t.db",
                       "data.source": source, "study.timeout": timeout,
                       "trainer.epochs": epochs, "search.adapt_epochs": False,
                       "trainer.latency_repeats": 1, "search.loss_probes": False,
                       "search.family_start": False, "search.refit": False,
                       "search.cross_validate": False})
