"""The epoch rule and the deadline (pure: no search)."""

from __future__ import annotations

import time

from automl.policy.budget import (
    FULL_SHARE,
    MAX_EPOCHS,
    MIN_STEPS,
    Deadline,
    LeadTimer,
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
    assert d.can_start() and d.remaining() > 0


def test_timeout_caps_a_candidate_to_a_share_of_the_budget() -> None:
    d = Deadline.starting(80.0)
    assert d.epochs_for(50, 3) == 50  # nothing measured yet
    for s in (0.9, 1.0, 1.1):
        d.epoch_done(s)
    assert FULL_SHARE == 8
    assert d.epochs_for(50, 3) == 10  # 80 s / 8 = 10 s for one candidate, at 1 s an epoch
    for _ in range(4):
        d.epoch_done(1000.0)  # the median is now 1000 s an epoch
    assert d.epochs_for(50, 3) == 3  # never below the first rung


def test_deadline_refuses_a_start_with_less_than_an_epoch_left() -> None:
    now = [100.0]
    d = Deadline.starting(10.0, clock=lambda: now[0])
    now[0] = 109.5  # 0.5 s left
    assert d.can_start()  # nothing measured yet: any time left will do
    d.epoch_done(2.0)
    assert not d.can_start() and d.remaining() > 0
    now[0] = 110.0
    assert d.remaining() == 0.0  # passed
    assert Deadline.starting(1.0, started=97.0, clock=lambda: now[0]).remaining() <= 0


def test_a_familys_lead_in_and_lead_out_are_kept_clear_of_the_deadline() -> None:
    now = [0.0]
    d = Deadline.starting(100.0, clock=lambda: now[0])
    lead = LeadTimer(d, "rocket")
    now[0] = 5.0  # its first report: 1 s of epoch after 4 s of feature fit
    lead.reported(1.0)
    lead.handled()
    d.epoch_done(1.0)
    now[0] = 6.0
    lead.reported(1.0)  # a later report measures nothing
    lead.handled()
    now[0] = 9.0  # 3 s of test-split scoring after the last report
    lead.ended(cut=False)
    assert (d.lead_ins, d.lead_outs) == ({"rocket": 4.0}, {"rocket": 3.0})
    cut = LeadTimer(d, "rocket")
    now[0] = 10.0
    cut.reported(0.0)
    cut.handled()
    now[0] = 30.0
    cut.ended(cut=True)  # stopped between reports: 20 s of a dropped epoch, no lead-out
    assert d.lead_outs == {"rocket": 3.0}
    assert d.training_left("rocket") == 70.0 - 3.0
    assert d.training_left("mlp") == 67.0  # not measured yet: as slow as the slowest
    big = LeadTimer(d, "rocket")  # 10,000 kernels: twice the feature fit, so twice the end
    now[0] = 38.0
    big.reported(0.0)
    assert big.training_left() == 62.0 - 8.0 * 3.0 / 4.0
    now[0] = 87.5  # 12.5 s left: the family's longest lead-in 8, an epoch 1 and its end 3
    assert d.fits("rocket") and d.can_start()
    now[0] = 88.5  # 11.5 s left: not any more, and nothing starts after that
    assert not d.fits("rocket") and not d.can_start()


def test_spawned_workers_share_the_parents_deadline(monkeypatch) -> None:  # noqa: ANN001
    from automl.cluster.local import STARTED_ENV, search_started

    monkeypatch.setenv(STARTED_ENV, repr(time.time() - 5.0))
    monkeypatch.delenv("AUTOML_WORKER", raising=False)
    assert abs(search_started() - time.monotonic()) < 0.5  # not a worker: starts now
    monkeypatch.setenv("AUTOML_WORKER", "1")
    assert abs(time.monotonic() - search_started() - 5.0) < 0.5
    monkeypatch.setenv(STARTED_ENV, "garbage")
    assert abs(search_started() - time.monotonic()) < 0.5


def test_single_objective_pruners_are_sized_from_the_study_plan() -> None:
    """On tiny data a candidate trains far more than ``trainer.epochs``; Optuna's ASHA and
    Hyperband rank on that scale, and ASHA's first rung is the plan's, the same as MO-ASHA's."""
    import numpy as np

    from automl.api import load_config
    from automl.control.samplers import make_pruner
    from automl.policy.plan import make_plan
    from trainer.types import DataSplits

    def splits(n: int) -> DataSplits:
        x, y = np.zeros((n, 4), np.float32), np.arange(n) % 2
        return DataSplits(x, y, x[:10], y[:10], x[:10], y[:10], 2)

    cfg = load_config(None, ["study.objective='val_accuracy'", "trainer.epochs=20",
                             "study.pruner='asha'"])
    tiny, large = make_plan(cfg, splits(40)), make_plan(cfg, splits(50_000))
    # By hand: 40 samples, batch sizes (8, 16) -> 3 steps an epoch at 16; 300 steps need
    # 100 epochs; the first rung needs 50 steps: epoch 17. 50,000 samples keep 20 epochs.
    assert (tiny.epochs, tiny.steps_per_epoch, tiny.first_rung) == (100, 3, 17)
    assert large.epochs == 20 and large.first_rung == 1
    # Optuna keeps the sizes in private fields; read them to see what it was given.
    asha = make_pruner("asha", "val_accuracy", tiny.epochs, tiny.first_rung)
    assert asha._min_resource == 17  # type: ignore[attr-defined]
    hyper = make_pruner("hyperband", "val_accuracy", tiny.epochs, tiny.first_rung)
    assert hyper._max_resource == 100  # type: ignore[attr-defined]
    none = make_pruner("asha", "pareto", tiny.epochs, tiny.first_rung)
    assert type(none).__name__ == "NopPruner"  # a Pareto study prunes with MO-ASHA instead
