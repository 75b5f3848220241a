"""Parameter, FLOP and latency counts; static costs on the meta device."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from trainer_helpers import ResidualStack

from trainer import (
    Costs,
    count_flops,
    count_params,
    measure_costs,
    measure_latency_ms,
    static_cost,
)


@dataclass(frozen=True)
class _Spec:
    width: int = 8
    input_shape: tuple[int, ...] = (1, 8, 8)


def _conv_net(spec: _Spec) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, spec.width, 3, padding=1),
        nn.BatchNorm2d(spec.width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(spec.width * 16, 10),
    )


def test_linear_counts() -> None:
    layer = nn.Linear(10, 5)
    assert count_flops(layer, (10,)) == 2 * 10 * 5
    assert count_params(layer) == 10 * 5 + 5


def test_params_exclude_buffers_and_count_frozen_and_shared_once() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.BatchNorm1d(4), shared)
    model[1].weight.requires_grad_(False)
    assert count_params(model) == 20 + 8  # BatchNorm's running stats are buffers


def test_count_flops_restores_training_mode() -> None:
    model = _conv_net(_Spec())
    count_flops(model, (1, 8, 8))
    assert model.training
    model.eval()
    count_flops(model, (1, 8, 8))
    assert not model.training


def test_static_cost_on_meta_equals_cpu_counts() -> None:
    spec = _Spec(width=6)
    cpu = _conv_net(spec)
    expected = Costs(params=count_params(cpu), flops=count_flops(cpu, spec.input_shape))
    assert static_cost(spec, model_factory=_conv_net) == expected
    assert static_cost(spec, model_factory=_conv_net, input_shape=(1, 8, 8)) == expected
    # a checkpointable residual net too (checkpointing is off under no_grad)
    res = ResidualStack(depth=3)
    assert static_cost(
        None, model_factory=lambda s: ResidualStack(depth=3), input_shape=(1, 8, 8)
    ) == Costs(count_params(res), count_flops(res, (1, 8, 8)))


def test_static_cost_needs_an_input_shape() -> None:
    with pytest.raises(ValueError, match="input_shape"):
        static_cost(object(), model_factory=lambda s: nn.Linear(2, 2))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_static_cost_of_a_huge_model_allocates_nothing() -> None:
    built: list[nn.Module] = []

    def huge(spec: object) -> nn.Module:  # 3.4 G parameters: 13 GB if it were real
        built.append(nn.Sequential(*(nn.Linear(4096, 4096) for _ in range(200))))
        return built[-1]

    rss = _rss_mb()
    costs = static_cost(None, model_factory=huge, input_shape=(4096,))
    assert _rss_mb() - rss < 100
    # built once, on meta: no fallback to a real build (how fast it is, benchmarks measure)
    assert len(built) == 1 and all(p.device.type == "meta" for p in built[0].parameters())
    assert costs == Costs(params=200 * (4096 * 4096 + 4096), flops=200 * 2 * 4096 * 4096)


def test_latency_times_the_forward_passes_and_keeps_the_mode() -> None:
    model = _conv_net(_Spec())
    calls: list[int] = []
    model.register_forward_pre_hook(lambda module, args: calls.append(len(args[0])))
    latency = measure_latency_ms(model, (1, 8, 8), repeats=5, warmup=1)
    assert isinstance(latency, float) and 0 < latency < math.inf
    assert calls == [1] * 6  # warm-up + repeats, batch size 1
    assert model.training
    with pytest.raises(ValueError, match="repeats"):
        measure_latency_ms(model, (1, 8, 8), repeats=0)


def test_measure_costs_combines_the_three() -> None:
    model = _conv_net(_Spec())
    costs = measure_costs(model, (1, 8, 8), repeats=3)
    assert (costs.params, costs.flops) == (count_params(model), count_flops(model, (1, 8, 8)))
    assert costs.latency_ms is not None and costs.latency_ms > 0
    assert measure_costs(model, (1, 8, 8), repeats=0).latency_ms is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_latency_of_a_cuda_model_is_measured_on_cpu() -> None:
    model = _conv_net(_Spec()).cuda()
    assert measure_latency_ms(model, (1, 8, 8), repeats=3) > 0
    assert next(model.parameters()).is_cuda
