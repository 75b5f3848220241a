"""A failing rank ends the trial quickly, with its error, and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import time

import pytest
from ddp_helpers import BASE, failing_on_rank_1, killed_on_rank_1, nan_on_rank_1
from trainer_helpers import cross_entropy, image_splits, mlp

from trainer import (
    DeadlineStop,
    DistributedTrialError,
    NonFiniteLossError,
    TrainRequest,
    TrialTimeoutError,
    train,
)
from trainer.distributed import launch_trial

pytestmark = pytest.mark.distributed


def _train(model=mlp, loss=cross_entropy, **changes):  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(BASE, **changes)
    return train(None, None, image_splits(), cfg, model_factory=model, loss_factory=loss)


def test_a_raising_rank_fails_the_trial_quickly_and_the_next_trial_runs() -> None:
    start = time.monotonic()
    with pytest.raises(DistributedTrialError) as info:
        _train(failing_on_rank_1)
    elapsed = time.monotonic() - start
    assert str(info.value) == "rank 1: RankFails: rank one gave up at step 3"
    assert info.value.rank == 1 and info.value.error_type == "RankFails"
    assert 'raise RankFails("rank one gave up at step 3")' in info.value.rank_traceback
    assert elapsed < BASE.timeout / 2  # torn down, not timed out
    assert _train().val_accuracy > 0  # the next trial in the same process


def test_a_killed_rank_is_named() -> None:
    # Which of the two the agent sees first is a race: SIGKILL, or the peer's lost connection.
    died = r"^rank 1: (ProcessKilled|ProcessDied): "
    with pytest.raises(DistributedTrialError, match=died) as info:
        _train(killed_on_rank_1)
    assert "\n" not in str(info.value)


def test_divergence_and_timeouts_keep_their_types() -> None:
    # The controller prunes on these two, so they cross the process boundary as themselves.
    with pytest.raises(NonFiniteLossError) as diverged:
        _train(loss=nan_on_rank_1)
    assert diverged.value.epoch == 1 and diverged.value.step == 1
    with pytest.raises(TrialTimeoutError) as late:
        _train(trial_timeout=1e-9)
    assert late.value.limit == 1e-9
    # A search's deadline, passed before any epoch ended: every rank agrees and stops.
    with pytest.raises(DeadlineStop) as stopped:
        train(None, None, image_splits(), BASE, model_factory=mlp, loss_factory=cross_entropy,
              stop_at=time.time() - 1.0)
    assert stopped.value.epoch == 1 and stopped.value.step == 0


def test_a_failing_callback_stops_the_ranks_and_propagates() -> None:
    def broken(record: object) -> bool:
        raise KeyError("database is down")

    with pytest.raises(KeyError, match="database is down"):
        launch_trial(TrainRequest(None, None, BASE, mlp, cross_entropy), image_splits(), broken)


def test_factories_must_be_picklable() -> None:
    with pytest.raises(TypeError, match="model_factory must be picklable"):
        _train(lambda spec: mlp())
