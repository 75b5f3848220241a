"""``estimate_training_memory``: the meta-device estimate against the peak the trainer measures
on a real training step, and what it must never do (allocate)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn
from trainer_helpers import ResidualStack, cross_entropy, image_splits, make_mlp

import trainer.memory_estimate.headroom as headroom
from trainer import (
    MemoryEstimate,
    PeakMemoryMeter,
    TrainConfig,
    available_memory,
    estimate_training_memory,
    train,
)

MB = 2**20


def wide_mlp(spec: Any = None) -> nn.Module:
    """1x8x8 images -> 512 -> 3: big enough that activations and optimizer state both count."""
    return nn.Sequential(nn.Flatten(1), *make_mlp(SimpleNamespace(hidden=512), in_features=64))


def conv_stack(spec: Any = None) -> nn.Module:
    return ResidualStack(depth=16, channels=8)


CASES = {  # name: (model factory, trainer settings)
    "mlp-adamw": (wide_mlp, {}),
    "mlp-sgd-accumulating": (wide_mlp, {"optimizer": "sgd", "weight_decay": 1e-4,
                                        "grad_accum": 2}),
    "cnn-adamw": (conv_stack, {}),
    "cnn-sgd-sqrt-checkpointing": (conv_stack, {"optimizer": "sgd", "checkpointing": "sqrt"}),
    "cnn-bf16-autocast": (conv_stack, {"precision": "bf16"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_estimate_is_close_to_the_peak_measured_in_training(case: str) -> None:
    factory, settings = CASES[case]
    data = image_splits(n=200)
    cfg = TrainConfig(epochs=1, batch_size=32, device="cpu", num_threads=1, latency_repeats=0,
                      **settings)
    estimate = estimate_training_memory(None, cfg, data=data, model_factory=factory)
    measured = train(None, None, data, cfg, model_factory=factory, loss_factory=cross_entropy)
    assert measured.peak_memory_mb is not None
    ratio = estimate.step_peak / (measured.peak_memory_mb * MB)
    # The meta step runs the same ops as the CPU one (1.00 for these; bf16 with checkpointing
    # and the optimizer's temporaries by formula are the approximate parts).
    assert 0.9 <= ratio <= 1.1, (case, estimate, measured.peak_memory_mb)
    assert estimate.total >= estimate.step_peak + estimate.data + estimate.kept


def test_checkpointing_and_bf16_lower_the_estimate() -> None:
    data = image_splits(n=200)

    def activations(**settings: Any) -> int:
        cfg = TrainConfig(batch_size=32, device="cpu", **settings)
        e = estimate_training_memory(
            None, cfg, data=data, model_factory=lambda s: ResidualStack(depth=64))
        return e.activations + e.backward

    plain = activations()
    assert activations(checkpointing="sqrt") < 0.5 * plain  # as the meter measures it
    assert activations(precision="bf16") < 0.7 * plain


def test_a_huge_candidate_is_estimated_without_allocating_it() -> None:
    # Two 32768-wide layers: 8.6 GB of weights, 34 GB to train with AdamW.
    def huge(spec: Any = None) -> nn.Module:
        return nn.Sequential(nn.Linear(2**15, 2**15), nn.ReLU(), nn.Linear(2**15, 10))

    cfg = TrainConfig(batch_size=64, device="cpu", eval_batch_size=64)
    start = time.perf_counter()
    with PeakMemoryMeter("cpu") as real:
        e = estimate_training_memory(None, cfg, input_shape=(2**15,), model_factory=huge)
    assert time.perf_counter() - start < 5
    assert real.peak_bytes < MB  # a few scalars at most: no weight, activation or state
    weights = (2**15 * 2**15 + 2**15 + 2**15 * 10 + 10) * 4
    assert e.params == e.grads == e.kept == weights
    assert e.optimizer == 2 * weights + 4 * 4  # two moments, and a step counter per tensor
    assert e.total > 4 * weights


def test_optimizer_state_and_the_share_of_each_rank() -> None:
    def estimate(**settings: Any) -> MemoryEstimate:
        cfg = TrainConfig(batch_size=64, device="cpu", **settings)
        return estimate_training_memory(None, cfg, input_shape=(64,), model_factory=wide_mlp)

    one = estimate()
    assert estimate(optimizer="sgd").optimizer == one.grads  # the momentum buffer
    ddp = estimate(nproc=2)
    assert ddp.buckets == ddp.grads and one.buckets == 0  # DDP's second copy of the gradients
    assert ddp.batch == one.batch // 2  # each rank trains half of the global batch
    # ZeRO hands out whole tensors, largest first: one rank holds the 64 x 512 weight's state.
    assert estimate(nproc=2, zero=True).optimizer == 2 * 64 * 512 * 4 + 4
    accumulating = estimate(grad_accum=4)  # the batch is held whole, run a quarter at a time
    assert accumulating.batch == one.batch and accumulating.activations == one.activations // 4


def test_a_built_module_is_estimated_through_a_meta_copy() -> None:
    cfg = TrainConfig(batch_size=16, device="cpu")
    module = conv_stack()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    from_module = estimate_training_memory(module, cfg, input_shape=(1, 8, 8))
    from_factory = estimate_training_memory(None, cfg, input_shape=(1, 8, 8),
                                            model_factory=conv_stack)
    assert from_module == from_factory
    assert all(p.device.type == "cpu" and p.grad is None for p in module.parameters())
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())


def test_available_cpu_memory_is_shared_by_the_processes_of_a_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(headroom, "_system_available", lambda: 8 * 2**30)
    monkeypatch.setattr(headroom, "_cgroup_available", lambda: None)
    assert available_memory("cpu") == 8 * 2**30
    assert available_memory("cpu", nproc=4) == 2 * 2**30
    monkeypatch.setattr(headroom, "_cgroup_available", lambda: 2**30)  # a container's limit
    assert available_memory("cpu") == 2**30
    assert available_memory("meta") is None


def test_available_memory_of_this_machine_is_read() -> None:
    found = available_memory("cpu")
    assert found is None or found > 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_estimate_is_close_to_the_peak_measured_on_cuda(precision: str) -> None:
    # max_memory_allocated also counts what no ATen op returns (cuDNN workspaces, allocator
    # rounding), so the bounds are wider than on the CPU.
    data = image_splits(n=400)
    cfg = TrainConfig(epochs=1, batch_size=64, device="cuda", latency_repeats=0,
                      precision=precision)
    estimate = estimate_training_memory(None, cfg, data=data, model_factory=conv_stack)
    measured = train(None, None, data, cfg, model_factory=conv_stack,
                     loss_factory=cross_entropy)
    assert measured.peak_memory_mb is not None
    assert 0.5 <= estimate.step_peak / (measured.peak_memory_mb * MB) <= 2.0
    free = available_memory("cuda")
    assert free is not None and free > estimate.total
