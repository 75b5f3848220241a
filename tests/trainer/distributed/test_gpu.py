"""The NCCL path on CUDA: skipped without a GPU (run by benchmarks/gpu_check.sh)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from ddp_helpers import BASE
from trainer_helpers import bias_free_mlp, cross_entropy, image_splits, residual_stack

from trainer import TrainRequest
from trainer.distributed import launch_trial

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.distributed,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

# One rank per GPU; with a single GPU the trial still goes through the launcher and NCCL.
NPROC = min(2, torch.cuda.device_count()) if torch.cuda.is_available() else 1
CUDA = dataclasses.replace(BASE, device="cuda", nproc=NPROC, batch_size=24)


def _launch(cfg, model=residual_stack):  # type: ignore[no-untyped-def]
    return launch_trial(TrainRequest(None, None, cfg, model, cross_entropy), image_splits())


def _learned(result) -> bool:  # type: ignore[no-untyped-def]
    losses = [r.train_loss for r in result.history]
    return all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_nccl_trains_and_measures_cuda_memory() -> None:
    result, outputs = _launch(CUDA)
    assert len(outputs) == NPROC
    assert _learned(result)
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 0  # max_memory_allocated
    assert result.comm_bytes_per_step == 4 * sum(p.numel() for p in residual_stack().parameters())
    assert all(t.device.type == "cpu" for t in result.state_dict.values())


def test_fp16_precision_uses_a_grad_scaler_and_learns() -> None:
    result, _ = _launch(dataclasses.replace(CUDA, precision="fp16", epochs=3))
    assert _learned(result)
    assert all(torch.isfinite(t).all() for t in result.state_dict.values())


@pytest.mark.parametrize("hook", ["fp16", "bf16"])
def test_16_bit_hooks_on_nccl_halve_the_bytes(hook: str) -> None:
    plain, _ = _launch(CUDA, bias_free_mlp)
    half, _ = _launch(dataclasses.replace(CUDA, comm_hook=hook), bias_free_mlp)
    assert plain.comm_bytes_per_step is not None and half.comm_bytes_per_step is not None
    assert half.comm_bytes_per_step / plain.comm_bytes_per_step == 0.5


def test_powersgd_on_nccl() -> None:
    result, _ = _launch(
        dataclasses.replace(CUDA, comm_hook="powersgd", powersgd_start_iter=2), bias_free_mlp
    )
    assert result.comm_bytes_per_step == 4 * ((128 + 64) + (3 + 128))
