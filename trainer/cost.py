"""What a network costs: parameters, FLOPs of one forward pass, CPU latency at batch size 1.

``static_cost`` builds the network on the ``meta`` device, where tensors have shapes but no
memory, so a search can price a candidate in milliseconds before deciding to train it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainer.factories import ModelFactory, default_model_factory
from trainer.runtime import median_ms
from trainer.types import Costs


def count_params(model: nn.Module) -> int:
    """Number of parameters, trainable or not (buffers excluded; shared ones counted once)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass of one sample of shape ``input_shape``, in eval mode.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``: a multiply-add is 2 FLOPs (so
    ``Linear(10, 5)`` costs 100); elementwise ops, norms and pooling are not counted. The input
    is created on the model's device, so a model on ``meta`` is counted without memory.
    """
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((1, *input_shape), device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def static_cost(
    arch_spec: Any,
    *,
    model_factory: ModelFactory | None = None,
    input_shape: Sequence[int] | None = None,
) -> Costs:
    """Parameters and FLOPs of ``arch_spec`` without allocating its weights.

    ``input_shape`` defaults to ``arch_spec.input_shape``. The network is built under
    ``torch.device("meta")``; ``latency_ms`` is None (see :func:`measure_latency_ms`).
    """
    factory = model_factory or default_model_factory
    shape = _input_shape(arch_spec, input_shape)
    with torch.device("meta"):
        model = factory(arch_spec)
    try:
        flops = count_flops(model, shape)
    except (NotImplementedError, RuntimeError):
        # Every op of our spaces has a meta kernel in torch 2.13 (checked by the tests); an op
        # without one, or one that reads values (``.item()``), lands here, and then we pay for
        # a real CPU build rather than fail. A genuine model error simply raises again below.
        model = factory(arch_spec)
        flops = count_flops(model, shape)
    return Costs(params=count_params(model), flops=flops)


@torch.inference_mode()
def measure_latency_ms(
    model: nn.Module, input_shape: Sequence[int], repeats: int = 30, warmup: int = 5
) -> float:
    """Median wall time in ms of a batch-1 forward pass on CPU, in eval mode.

    A model that is not on the CPU is measured on a CPU copy. The time depends on
    ``torch.get_num_threads()``, so compare latencies measured with the same thread count.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()
    x = torch.randn((1, *input_shape), generator=torch.Generator().manual_seed(0))
    was_training = model.training
    model.eval()
    try:
        return median_ms(lambda: model(x), repeats, warmup)
    finally:
        model.train(was_training)


def measure_costs(model: nn.Module, input_shape: Sequence[int], repeats: int = 30) -> Costs:
    """Parameters, FLOPs and (when ``repeats`` > 0) CPU latency of a built model."""
    latency = measure_latency_ms(model, input_shape, repeats) if repeats > 0 else None
    return Costs(
        params=count_params(model), flops=count_flops(model, input_shape), latency_ms=latency
    )


def _input_shape(arch_spec: Any, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    if input_shape is None:
        input_shape = getattr(arch_spec, "input_shape", None)
    if input_shape is None:
        raise ValueError("no input_shape given and the arch spec has no `input_shape`")
    return tuple(int(s) for s in input_shape)
