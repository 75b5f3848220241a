"""Families chosen by evidence (issue 21): every family's strong default is tried first, then a
family whose measured candidates trail the leader by more than the validation noise is no longer
proposed (automl/policy/families.py, automl/control/steering.py). The search runs in this
process with real Optuna and SQLite; only the training is a stand-in."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import decision_kit as kit
import optuna
import pytest

from automl.cli.app import _family_lines
from automl.control.cheap_start import START_ATTR, next_strong, strong_start_params
from automl.control.run import family_race
from automl.control.steering import FamilySteering, race
from automl.policy.families import Entry, noise, standings
from search_spaces import InputInfo, sample_arch

BATCHES = {"batch_sizes": (8, 16, 32)}


def test_a_family_leaves_only_after_several_candidates_trail_beyond_the_noise() -> None:
    n_val = 400  # noise at 0.9: 2 * sqrt(0.09 / 400) = 0.03
    assert noise(0.9, n_val) == pytest.approx(0.03)
    assert noise(1.0, n_val) == pytest.approx(1 / 400)  # never below one sample
    lead = [Entry("rocket", 0.90)]
    two = lead + [Entry("mlp", 0.5), Entry("mlp", 0.6)]
    assert standings(two, ("rocket", "mlp"), n_val)["mlp"].racing  # only two measured
    three = two + [Entry("mlp", 0.55, complete=False)]  # a pruned one counts, at its best
    out = standings(three, ("rocket", "mlp", "cnn1d"), n_val)
    assert not out["mlp"].racing and "0.600 in 3 candidates" in (out["mlp"].dropped or "")
    assert out["rocket"].racing and out["cnn1d"].racing  # the leader; one never measured
    close = two + [Entry("mlp", 0.875)]  # within the noise of the leader
    assert standings(close, ("rocket", "mlp"), n_val)["mlp"].racing
    # The leader is the best completed candidate: a pruned figure does not lead.
    early = [Entry("rocket", 0.99, complete=False)] + three[1:] + [Entry("cnn1d", 0.6)]
    assert standings(early, ("rocket", "mlp", "cnn1d"), n_val)["mlp"].racing


def test_in_a_pareto_search_a_family_on_the_front_stays() -> None:
    entries = [Entry("rocket", 0.95, cost=1e6), Entry("mlp", 0.70, cost=1e3),
               Entry("mlp", 0.60, cost=2e3), Entry("mlp", 0.65, cost=5e3)]
    assert not standings(entries, ("rocket", "mlp"), 1000)["mlp"].racing
    assert standings(entries, ("rocket", "mlp"), 1000, pareto=True)["mlp"].racing
    dominated = [Entry("rocket", 0.95, cost=1e2), *entries[1:]]
    assert not standings(dominated, ("rocket", "mlp"), 1000, pareto=True)["mlp"].racing


def _study_with(results: list[tuple[str, float]]) -> optuna.Study:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dist = optuna.distributions.CategoricalDistribution(("a", "b"))
    for family, value in results:
        study.add_trial(optuna.trial.create_trial(
            params={"family": family}, distributions={"family": dist}, value=value,
            user_attrs={"val_samples": 500}))
    return study


def test_the_steered_sampler_never_proposes_a_family_out_of_the_race() -> None:
    study = _study_with([("a", 0.9), ("b", 0.5), ("b", 0.52), ("b", 0.48)])
    assert not race(study.get_trials(), pareto=False)["b"].racing
    study.sampler = FamilySteering(optuna.samplers.RandomSampler(seed=1), pareto=False, seed=1)
    asked = [study.ask().suggest_categorical("family", ("a", "b")) for _ in range(30)]
    assert set(asked) == {"a"}
    # Unsteered, the same sampler proposes both (so the steering is what removed "b").
    free = _study_with([("a", 0.9), ("b", 0.5), ("b", 0.52), ("b", 0.48)])
    free.sampler = optuna.samplers.RandomSampler(seed=1)
    assert {free.ask().suggest_categorical("family", ("a", "b")) for _ in range(30)} == {"a", "b"}


def test_every_family_gets_its_strong_default_whatever_the_data_looks_like() -> None:
    from automl.config import from_dict

    # Rows that do not look like a signal (lag-1 0.1): rocket still gets its MiniRocket-sized
    # candidate; the table-like families come first.
    info = InputInfo((60,), 4, n_train=300, lag1=0.1)
    starts = strong_start_params(from_dict({}), info, BATCHES)
    assert [p["family"] for p in starts] == ["mlp", "cnn1d", "rocket"]
    rocket = starts[2]
    assert (rocket["rocket.n_features"], rocket["rocket.norm"]) == (10000, "none")
    spec = sample_arch("auto", optuna.trial.FixedTrial(rocket), info)
    assert sum(spec.per_dilation) * len(spec.dilations) * 84 >= 9000  # about MiniRocket's size
    mlp = sample_arch("auto", optuna.trial.FixedTrial(starts[0]), info)
    assert mlp.hidden == (256, 256) and mlp.norm == "batch"
    # Signals: the sequence families first; still every family.
    signal = InputInfo((60,), 4, n_train=300, lag1=0.9)
    assert [p["family"] for p in strong_start_params(from_dict({}), signal, BATCHES)] == [
        "cnn1d", "rocket", "mlp"]
    # Turned off: only the cheapest (a Pareto search with a timeout), or nothing.
    from automl.control.cheap_start import queue_starts

    plan = SimpleNamespace(info=info, hparam_options=BATCHES)
    # With a timeout the strong starts come later, one at a time (StrongStarts).
    for settings, kinds, later in (({}, ["strong"] * 3, 0),
                                   ({"search": {"family_start": False}}, [], 0),
                                   ({"study": {"timeout": 30}}, ["cheapest"] * 3, 3)):
        cfg = from_dict(settings)
        study = optuna.create_study(directions=cfg.directions)
        rest = queue_starts(study, cfg, plan, 100)  # type: ignore[arg-type]
        assert [t.user_attrs[START_ATTR] for t in study.get_trials()] == kinds, settings
        assert len(rest) == later and all(p["family"] for p in rest)


def _worse_cnn1d(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None,
                 **kw: Any) -> Any:
    """The stand-in training, except that every cnn1d candidate learns a third as well."""
    if arch.kind != "cnn1d":
        return kit.fake_train(arch, loss, data, cfg, on_epoch, **kw)

    def third(rec: Any) -> Any:
        return rec.__class__(rec.epoch, rec.train_loss, rec.val_accuracy / 3, rec.seconds,
                             rec.val_loss)

    seen = None if on_epoch is None else (lambda rec: on_epoch(third(rec)))
    result = kit.fake_train(arch, loss, data, cfg, seen, **kw)
    return result.__class__(**{**vars(result), "val_accuracy": result.val_accuracy / 3,
                               "history": [third(r) for r in result.history]})


def _searched(tmp_path: Path, name: str, train: Any, flags: dict[str, Any], **kw: Any
              ) -> tuple[str, list[Any]]:
    """A search of the first 360 digits with the stand-in ``train``: its URL and its records
    (with epochs). ``flags``: settings beside the name, storage, data and seed."""
    from automl.config import load
    from automl.control.controller import run_search
    from automl.data import load_data
    from automl.storage import open_storage

    data = kit.small_digits(tmp_path / "d.npz")
    url = f"sqlite:///{tmp_path}/{name}.db"
    cfg = load(None, {"study.name": name, "study.storage": url, "data.source": data,
                      "study.seed": 0, "trainer.latency_repeats": 1,
                      "search.loss_probes": False, "search.adapt_epochs": False,
                      "search.cross_validate": False, **flags})
    d = cfg.data
    prepared = load_data(d.source, d.val_fraction, d.test_fraction, 0, d.standardize)
    store = open_storage(url, artifacts=str(tmp_path / "art"))
    try:
        run_search(cfg, store, prepared, train=train, **kw)
        return url, store.trials(name, with_epochs=True)
    finally:
        store.close()


def test_an_ensemble_strong_start_over_a_limit_takes_the_most_members_that_fit() -> None:
    from automl.config import from_dict

    info = InputInfo((60,), 4, n_train=300, lag1=0.1)
    offered = {"search": {"arch_options": {"mlp_members": [1, 4, 16]}}}

    def mlp_start(flops: int | None) -> Any:
        limits = {"limits": {"max_flops": flops}} if flops else {}
        starts = strong_start_params(from_dict({**offered, **limits}), info, BATCHES)
        mlp = next(p for p in starts if p["family"] == "mlp")
        return sample_arch("auto", optuna.trial.FixedTrial(mlp), info,
                           {"mlp_members": [1, 4, 16]})

    assert mlp_start(None).members == 16  # no limit: the most offered
    # 2 x 256 on 60 inputs is about 164K FLOPs a member: 16 are over 1M, 4 are not; one
    # member fits 200K. The start is never dropped for its member count.
    assert mlp_start(1_000_000).members == 4
    assert mlp_start(200_000).members == 1


def test_a_search_drops_a_family_that_trails_and_says_why(tmp_path: Path) -> None:
    url, records = _searched(tmp_path, "race", _worse_cnn1d, {
        "study.trials": 24, "trainer.epochs": 4, "study.objective": "val_accuracy"})
    trials = optuna.load_study(study_name="race", storage=url).get_trials()
    strong = [t for t in trials if t.user_attrs.get(START_ATTR) == "strong"]
    assert [t.number for t in strong] == [0, 1, 2]  # every family first, at its strong default
    assert {t.params["family"] for t in strong} == {"mlp", "cnn1d", "rocket"}
    families = [t.params["family"] for t in sorted(trials, key=lambda t: t.number)]
    measured = [i for i, f in enumerate(families) if f == "cnn1d"]
    assert len(measured) == 3, families  # three measured, then never proposed again
    table = family_race(records, "flops", pareto=False)
    assert table["cnn1d"]["dropped"] and table["cnn1d"]["tried"] == 3
    assert not table["mlp"]["dropped"] and not table["rocket"]["dropped"]
    best = max(r.val_accuracy for r in records if r.val_accuracy is not None)
    assert math.isclose(float(table["cnn1d"]["dropped"].split("'s ")[1].split()[0]), best,
                        abs_tol=1e-3)
    lines = _family_lines(table)
    assert lines[0] == "families in the race: mlp, rocket"
    assert lines[1].startswith("family cnn1d out of the race: best 0.")
    assert float(lines[1].split("best ")[1].split()[0]) < 0.33


def test_a_strong_start_is_trained_in_full_where_rungs_cut_others(tmp_path: Path) -> None:
    url, found = _searched(tmp_path, "full", _worse_cnn1d, {
        "study.trials": 16, "trainer.epochs": 9, "search.cheap_start": "always"})
    records = {r.number: r for r in found}
    trials = optuna.load_study(study_name="full", storage=url).get_trials()
    kinds = {t.number: t.user_attrs.get(START_ATTR) for t in trials}
    assert sorted(kinds.values(), key=str).count("strong") == 3
    assert any(r.state == "PRUNED" and "rung" in (r.reason or "") for r in records.values())
    for number, kind in kinds.items():
        if kind == "strong":  # the worse cnn1d's too: every epoch trained, never cut
            assert records[number].state == "COMPLETE", records[number].reason
            assert len(records[number].epochs) == 9


def test_with_a_timeout_the_strong_starts_are_queued_one_at_a_time(tmp_path: Path) -> None:
    now = [0.0]

    def train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None, **kw: Any
              ) -> Any:
        return kit.fake_train(arch, loss, data, cfg, on_epoch, epoch_seconds=1.0,
                              clock=lambda s: now.__setitem__(0, now[0] + s))

    url, _ = _searched(tmp_path, "t", train, {
        "study.trials": 10, "study.timeout": 10_000.0, "trainer.epochs": 4},
        started=0.0, clock=lambda: now[0])
    trials = sorted(optuna.load_study(study_name="t", storage=url).get_trials(),
                    key=lambda t: t.number)
    kinds = [t.user_attrs.get(START_ATTR) for t in trials]
    assert kinds[:3] == ["cheapest"] * 3 and kinds[3:6] == ["strong"] * 3
    assert {t.params["family"] for t in trials[3:6]} == {"mlp", "cnn1d", "rocket"}
    # The first strong start is that of the family whose cheapest candidate scored best.
    leader = max(trials[:3], key=lambda t: t.values[0] if t.values else -1.0)
    assert trials[3].params["family"] == leader.params["family"]
    # Each strong start was queued after the trial before it finished: never two waiting.
    for before, strong in zip(trials[2:5], trials[3:6], strict=True):
        assert strong.datetime_start >= before.datetime_complete
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)


def test_the_next_strong_start_is_the_best_measured_familys() -> None:
    def trial(family: str, state: str, value: float | None = None,
              val_best: float | None = None) -> SimpleNamespace:
        attrs = {"val_samples": 30, **({"val_best": val_best} if val_best is not None else {})}
        return SimpleNamespace(params={"family": family}, state=state, user_attrs=attrs,
                               values=None if value is None else [value, 1.0])

    pending = [{"family": "mlp"}, {"family": "cnn1d"}, {"family": "rocket"}]
    cheap = [trial("mlp", "COMPLETE", 0.6), trial("cnn1d", "COMPLETE", 0.3),
             trial("rocket", "COMPLETE", 0.9)]
    assert next_strong(pending, cheap) == 2  # ArrowHead's case: the rocket at 1.0, cnn1d 0.33
    # A candidate a rung stopped counts at its best epoch; one that failed is no evidence.
    stopped = [*cheap[:2], trial("cnn1d", "PRUNED", val_best=0.95), trial("rocket", "FAIL")]
    assert next_strong(pending, stopped) == 1
    # A family not measured yet comes after the measured ones; ties keep the given order.
    assert next_strong(pending, [trial("rocket", "COMPLETE", 0.2)]) == 2
    assert next_strong(pending, [trial("mlp", "COMPLETE", 0.7),
                                 trial("cnn1d", "COMPLETE", 0.7)]) == 0
    assert next_strong(pending, []) == 0


def test_rockets_leave_one_out_is_recorded_beside_its_folds(tmp_path: Path) -> None:
    # The ridge start's leave-one-out figure comes with every rocket's training at no cost; it
    # is stored for analysis, while the choice still rests on folds and the holdout (as the
    # contenders' cross-validated figure it lost 0.6 points on 8 sets x 3 seeds).
    def train(arch: Any, loss: Any, data: Any, cfg: Any, on_epoch: Any = None, **kw: Any
              ) -> Any:
        result = kit.fake_train(arch, loss, data, cfg, on_epoch, **kw)
        if arch.kind != "rocket":
            return result
        return result.__class__(**{**vars(result), "loo_accuracy": result.val_accuracy - 0.123,
                                   "loo_samples": len(data.y_train)})

    _, records = _searched(tmp_path, "loo", train, {
        "study.trials": 12, "trainer.epochs": 3, "study.objective": "val_accuracy",
        "search.cross_validate": True})
    done = [r for r in records if r.state == "COMPLETE"]
    rockets = [r for r in done if r.arch["kind"] == "rocket"]
    assert rockets
    for r in rockets:
        assert r.loo_accuracy == pytest.approx(r.val_accuracy - 0.123)
        assert r.loo_samples == sum(r.class_counts or [])  # the training split
        assert r.cv_accuracy != r.loo_accuracy  # folds (or none), never the LOO figure
    assert all(r.loo_accuracy is None for r in done if r.arch["kind"] != "rocket")
