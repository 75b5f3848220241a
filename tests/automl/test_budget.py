"""The epoch rule and the deadline (pure: no search)."""

from __future__ import annotations

import time

from automl.policy.budget import (
    FULL_SHARE,
    MAX_EPOCHS,
    MIN_STEPS,
    Deadline,
    first_rung,
    steps_per_epoch,
    study_epochs,
)


def test_epochs_grow_on_tiny_data_and_stay_on_large() -> None:
    # 40 samples at batch 16: 3 steps an epoch, so 100 epochs give MIN_STEPS steps.
    assert steps_per_epoch(40, (8, 16)) == 3
    assert study_epochs(20, 40, (8, 16)) == -(-MIN_STEPS // 3)
    assert study_epochs(20, 50_000, (128, 256)) == 20
    assert study_epochs(20, 1, (8,)) == min(MAX_EPOCHS, MIN_STEPS)  # one step an epoch
    assert study_epochs(7, 40, (8, 16), adapt=False) == 7


def test_first_rung_needs_enough_steps() -> None:
    assert first_rung(20, steps_per_epoch=100) == 1
    assert first_rung(20, steps_per_epoch=10) == 5
    assert first_rung(400, steps_per_epoch=1000) == 20


def test_no_timeout_never_caps_or_stops() -> None:
    d = Deadline.starting(None)
    d.epoch_done(100.0)
    assert d.epochs_for(50, 3) == 50
    assert d.can_start() and not d.passed()


def test_timeout_caps_a_candidate_to_a_share_of_the_budget() -> None:
    d = Deadline.starting(80.0)
    assert d.epochs_for(50, 3) == 50  # nothing measured yet
    for s in (0.9, 1.0, 1.1):
        d.epoch_done(s)
    assert d.epochs_for(50, 3) == int(80 / FULL_SHARE / 1.0)
    for _ in range(4):
        d.epoch_done(1000.0)  # the median is now 1000 s an epoch
    assert d.epochs_for(50, 3) == 3  # never below the first rung


def test_deadline_refuses_a_start_with_less_than_an_epoch_left() -> None:
    d = Deadline.starting(10.0, started=time.monotonic() - 9.5)
    assert d.can_start()
    d.epoch_done(2.0)
    assert not d.can_start() and not d.passed()
    assert Deadline.starting(1.0, started=time.monotonic() - 2).passed()


def test_spawned_workers_share_the_parents_deadline(monkeypatch) -> None:  # noqa: ANN001
    from automl.cluster.local import STARTED_ENV, search_started

    monkeypatch.setenv(STARTED_ENV, repr(time.time() - 5.0))
    monkeypatch.delenv("AUTOML_WORKER", raising=False)
    assert abs(search_started() - time.monotonic()) < 0.5  # not a worker: starts now
    monkeypatch.setenv("AUTOML_WORKER", "1")
    assert abs(time.monotonic() - search_started() - 5.0) < 0.5
    monkeypatch.setenv(STARTED_ENV, "garbage")
    assert abs(search_started() - time.monotonic()) < 0.5


def test_single_objective_pruners_are_sized_from_the_adapted_epochs() -> None:
    """On tiny data a candidate trains far more than ``trainer.epochs``; Optuna's ASHA and
    Hyperband must rank on that scale, not stop everything by ``trainer.epochs / 8``."""
    from automl.api import load_config
    from automl.control.samplers import make_pruner
    from automl.policy.budget import full_epochs

    cfg = load_config(None, ["study.objective='val_accuracy'", "trainer.epochs=20",
                             "study.pruner='asha'"])
    tiny, large = full_epochs(cfg, 40), full_epochs(cfg, 50_000)
    assert large == 20 and tiny >= 5 * large
    # Optuna keeps the sizes in private fields; read them to see what it was given.
    assert make_pruner(cfg, tiny)._min_resource == tiny // 8  # type: ignore[attr-defined]
    assert make_pruner(cfg)._min_resource == 20 // 8  # type: ignore[attr-defined]
    hyper = load_config(None, ["study.objective='val_accuracy'", "study.pruner='hyperband'"])
    assert make_pruner(hyper, tiny)._max_resource == tiny  # type: ignore[attr-defined]
