"""The memory estimate of a DDP trial against the largest rank's measured peak, on gloo: each
rank's share of the batch and (under ZeRO) of the optimizer state, and DDP's gradient buckets."""

from __future__ import annotations

import dataclasses

import pytest
from ddp_helpers import BASE
from trainer_helpers import bias_free_mlp, cross_entropy, image_splits, residual_stack

from trainer import TrainRequest, estimate_training_memory
from trainer.distributed import launch_trial

pytestmark = pytest.mark.distributed


@pytest.mark.parametrize("zero", [False, True], ids=["ddp", "zero"])
@pytest.mark.parametrize("model", [bias_free_mlp, residual_stack], ids=lambda f: f.__name__)
def test_estimate_is_close_to_the_largest_ranks_peak(model: object, zero: bool) -> None:
    cfg = dataclasses.replace(BASE, epochs=1, optimizer="adamw", zero=zero)
    data = image_splits()
    estimate = estimate_training_memory(None, cfg, data=data, model_factory=model)
    result, _ = launch_trial(TrainRequest(None, None, cfg, model, cross_entropy), data)
    assert result.peak_memory_mb is not None
    ratio = estimate.step_peak / (result.peak_memory_mb * 2**20)
    assert 0.95 <= ratio <= 1.05, (estimate, result.peak_memory_mb)
