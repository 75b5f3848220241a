"""``stop_at``: a search's deadline stops training at a batch boundary, not at the end of a long
epoch, and keeps the best epoch so far (or says that none had ended)."""

from __future__ import annotations

import time
import types
from typing import Any

import pytest
import torch
from trainer_helpers import make_mlp

from trainer import DeadlineStop, EpochRecord, TrainConfig, train
from trainer.data import TensorSplits, accuracy

CFG = TrainConfig(epochs=40, batch_size=16, lr=3e-2, latency_repeats=0)


def test_a_deadline_already_passed_trains_nothing(splits: Any, factories: Any) -> None:
    with pytest.raises(DeadlineStop, match="before any epoch ended"):
        train(None, None, splits, CFG, stop_at=time.time() - 1.0, **factories)


def test_training_stops_mid_epoch_and_keeps_the_best_epoch(splits: Any, factories: Any,
                                                           monkeypatch: Any) -> None:
    # The loop's wall clock jumps past stop_at once epoch 3 has been reported: the next batch
    # boundary (in epoch 4) ends the run, and epoch 4's partial training is dropped.
    now = [1000.0]
    monkeypatch.setattr("trainer.loop.time", types.SimpleNamespace(
        time=lambda: now[0], perf_counter=time.perf_counter))
    seen: list[EpochRecord] = []

    def on_epoch(record: EpochRecord) -> bool:
        seen.append(record)
        if record.epoch == 3:
            now[0] += 100.0
        return False

    result = train(None, None, splits, CFG, on_epoch, stop_at=1050.0, **factories)
    assert [r.epoch for r in result.history] == [1, 2, 3] == [r.epoch for r in seen]
    assert result.stopped_early
    best = max(r.val_accuracy for r in result.history)
    assert result.val_accuracy == best and result.best_epoch in (1, 2, 3)
    model = make_mlp()
    model.load_state_dict(result.state_dict)  # the kept weights are the best epoch's
    data = TensorSplits.from_numpy(splits, torch.device("cpu"))
    assert accuracy(model, data.x_val, data.y_val, 512) == best
