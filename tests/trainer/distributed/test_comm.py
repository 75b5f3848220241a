"""Bytes all-reduced per step under each communication hook, on gloo."""

from __future__ import annotations

import dataclasses

import pytest
from ddp_helpers import BASE
from trainer_helpers import bias_free_mlp, cross_entropy, image_splits

from trainer import TrainRequest
from trainer.distributed import launch_trial

pytestmark = pytest.mark.distributed

R = dataclasses.replace
# bias_free_mlp's gradients as DDP's buckets hold them: two weight matrices, (n rows, m cols)
MATRICES = [(128, 64), (3, 128)]
FP32_BYTES = 4 * sum(n * m for n, m in MATRICES)


def _bytes(cfg_changes: dict[str, object]) -> tuple[float, list[int], float]:
    cfg = R(BASE, batch_size=24, epochs=1, **cfg_changes)  # type: ignore[arg-type]
    result, outputs = launch_trial(
        TrainRequest(None, None, cfg, bias_free_mlp, cross_entropy), image_splits()
    )
    assert result.comm_bytes_per_step is not None
    return result.comm_bytes_per_step, outputs[0].stats["step_bytes"], result.val_accuracy


def test_plain_all_reduce_sends_every_fp32_gradient() -> None:
    per_step, steps, _ = _bytes({})
    assert per_step == FP32_BYTES and set(steps) == {FP32_BYTES}


@pytest.mark.parametrize("hook", ["fp16", "bf16"])
def test_16_bit_hooks_send_half_the_bytes(hook: str) -> None:
    # bf16 runs on gloo too: DDP's CUDA/NCCL check is by hook name, gloo reduces bfloat16.
    per_step, _, accuracy = _bytes({"comm_hook": hook})
    assert per_step / FP32_BYTES == 0.5
    assert accuracy > 0.4  # it still learns (3 classes: chance is 1/3)


@pytest.mark.parametrize("rank", [1, 2])
def test_powersgd_sends_the_factors_after_its_start_iteration(rank: int) -> None:
    per_step, steps, _ = _bytes(
        {"comm_hook": "powersgd", "powersgd_rank": rank, "powersgd_start_iter": 3}
    )
    # A matrix is compressed to P (n x r) and Q (m x r) when that is at least 2x smaller
    # (PowerSGD's min_compression_rate), else sent as is.
    expected = 4 * sum(
        (n + m) * rank if 2 * (n + m) * rank < n * m else n * m for n, m in MATRICES
    )
    assert steps[:3] == [FP32_BYTES] * 3  # plain all-reduce before start_powerSGD_iter
    assert set(steps[3:]) == {expected} and per_step == expected
    if rank == 1:  # both matrices compressed: the textbook ratio sum (n+m)r / sum nm
        assert per_step / FP32_BYTES == pytest.approx(
            sum((n + m) * rank for n, m in MATRICES) / sum(n * m for n, m in MATRICES)
        )
