"""The cost-frugal start: a new Pareto search first trains the cheapest candidate of each
family, with plain cross-entropy and middle hyperparameters (automl/control/cheap_start.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from automl import api
from automl.config import from_dict
from automl.control.cheap_start import START_ATTR, cheap_start_params, queue_starts
from search_spaces import InputInfo, sample_arch, sample_hparams, sample_loss
from trainer import static_cost

BATCHES = {"batch_sizes": (8, 16, 32)}


def _flops(params: dict, info: InputInfo) -> float:
    return float(static_cost(sample_arch("auto", optuna.trial.FixedTrial(params), info)).flops)


def test_one_cheapest_candidate_per_family_cheapest_first() -> None:
    info = InputInfo((6, 40), 3, n_train=120, lag1=0.9)  # signal-like: every 2-D family
    starts = cheap_start_params(from_dict({}), info, BATCHES)
    assert sorted(p["family"] for p in starts) == ["cnn1d", "cnn2d", "mlp", "rocket"]
    flops = [_flops(p, info) for p in starts]
    assert flops == sorted(flops)
    for p, f in zip(starts, flops, strict=True):
        # No random candidate of the same family is cheaper.
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
        for _ in range(25):
            trial = study.ask()
            spec = sample_arch("auto", trial, info, {"families": [p["family"]]})
            assert static_cost(spec).flops >= f, p["family"]
            study.tell(trial, 0.0)
        fixed = optuna.trial.FixedTrial(p)
        assert sample_loss("searched", fixed, info).formula == "CE"
        hp = sample_hparams("default", fixed, BATCHES)
        assert (hp.optimizer, hp.lr, hp.batch_size) == ("adamw", 0.003, 16)


def test_a_space_without_families_gets_its_one_cheapest() -> None:
    cfg = from_dict({"search": {"arch": "mlp"}, "study": {"cost": "params"}})
    starts = cheap_start_params(cfg, InputInfo((30,), 2, n_train=300), BATCHES)
    assert len(starts) == 1 and "family" not in starts[0]
    assert starts[0]["n_layers"] == 1 and starts[0]["l0_width"] == 64


TIMED = {"study": {"timeout": 60}}
NO_STRONG = {"family_start": False}


@pytest.mark.parametrize(("settings", "most", "queued"), [
    ({**TIMED, "search": NO_STRONG}, 10, 2),
    ({**TIMED, "search": NO_STRONG}, 1, 1),  # never more than the run will try
    ({"search": NO_STRONG}, 10, 0),  # auto: only a search against the clock
    ({"search": {"cheap_start": "always", **NO_STRONG}}, 10, 2),
    ({**TIMED, "search": {"cheap_start": "never", **NO_STRONG}}, 10, 0),
    ({"study": {"objective": "val_accuracy", "timeout": 60},
      "search": {"cheap_start": "always", **NO_STRONG}}, 10, 0),  # no cost axis to cover
])
def test_cheapest_queued_only_in_a_new_pareto_study(settings: dict, most: int, queued: int
                                                    ) -> None:
    cfg = from_dict(settings)
    # What the cheap start reads of a study's plan; an image: cnn2d and mlp
    plan = SimpleNamespace(info=InputInfo((1, 8, 8), 10, n_train=1000), hparam_options=BATCHES)
    study = optuna.create_study(directions=cfg.directions)
    assert queue_starts(study, cfg, plan, most) == []  # type: ignore[arg-type]
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == queued
    assert all(t.user_attrs[START_ATTR] == "cheapest" for t in waiting)
    queue_starts(study, cfg, plan, most)  # type: ignore[arg-type]
    assert len(study.get_trials()) == queued  # not twice


@pytest.mark.slow
def test_a_new_search_trains_the_cheap_start_first_and_a_rerun_does_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 24)).astype(np.float32)  # 1-D rows: mlp, cnn1d and rocket
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    data = tmp_path / "rows.npz"
    np.savez(data, x=x, y=y)
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    kw = dict(data=str(data), study="cs", storage=url, epochs=2, top=0, timeout=120,
              overrides=["trainer.num_threads=1", "search.family_start=false"])
    api.search(trials=4, **kw)
    trials = optuna.load_study(study_name="cs", storage=url).get_trials()
    assert len(trials) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    first = [t for t in trials if t.user_attrs.get(START_ATTR) == "cheapest"]
    assert [t.number for t in first] == [0, 1, 2]
    assert {t.params["family"] for t in first} == {"mlp", "cnn1d", "rocket"}
    assert all(t.params["loss_family"] == "ce" and t.params["lr"] == 0.003 for t in first)
    records = {r.number: r for r in api.trials("cs", url)}
    for t in first:  # each is the cheapest of its family among the trials run
        same = [r for r in records.values() if r.arch["kind"] == records[t.number].arch["kind"]]
        assert records[t.number].flops == min(r.flops for r in same)
    api.search(trials=6, **kw)  # the same command, a higher goal: no second cheap start
    trials = optuna.load_study(study_name="cs", storage=url).get_trials()
    assert len(trials) == 6
    assert sum(t.user_attrs.get(START_ATTR) == "cheapest" for t in trials) == 3


def test_a_cheapest_candidate_over_a_limit_is_not_queued() -> None:
    info = InputInfo((1, 8, 8), 10, n_train=1000)
    starts = cheap_start_params(from_dict({}), info, BATCHES)
    flops = {p["family"]: _flops(p, info) for p in starts}
    assert set(flops) == {"mlp", "cnn2d"}
    between = (min(flops.values()) + max(flops.values())) / 2
    cfg = from_dict({"limits": {"max_flops": int(between)}})
    assert [p["family"] for p in cheap_start_params(cfg, info, BATCHES)] == [
        min(flops, key=flops.__getitem__)]
