"""The memory estimate's shape-only kernels and autocast emulation against torch's own: same
outputs (shape, dtype, strides) for every op they answer, and torch's kernel for the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from trainer.memory import PeakMemoryMeter
from trainer.memory_estimate.autocast import emulated_autocast
from trainer.memory_estimate.kernels import _SAME_SHAPE, ShapeOnlyKernels, _shape_only

aten = torch.ops.aten


def _meta(*shape: int, dtype: torch.dtype = torch.float32, last: bool = False) -> torch.Tensor:
    t = torch.empty(shape, dtype=dtype, device="meta")
    return t.to(memory_format=torch.channels_last) if last else t


def _described(out: Any) -> list[Any]:
    leaves = out if isinstance(out, tuple) else (out,)
    return [None if t is None else (tuple(t.shape), t.dtype, t.stride()) for t in leaves]


INPUTS = {
    "nchw": lambda: _meta(4, 3, 5, 5),
    "channels-last": lambda: _meta(4, 3, 5, 5, last=True),
    "bf16": lambda: _meta(8, 16, dtype=torch.bfloat16),
    "vector": lambda: _meta(7),
}
UNARY = ("relu", "gelu", "silu", "hardswish", "sigmoid", "tanh")


def _args(op: Any, x: torch.Tensor) -> tuple[Any, ...]:
    if op is aten.threshold_backward.default:
        return (x, x, 0.0)
    return (x,) if op.__name__.split(".")[0] in UNARY else (x, x)


@pytest.mark.parametrize("layout", sorted(INPUTS))
@pytest.mark.parametrize("op", sorted(_SAME_SHAPE, key=str), ids=str)
def test_elementwise_outputs_match_torchs_meta_kernels(op: Any, layout: str) -> None:
    args = _args(op, INPUTS[layout]())
    fast = _shape_only(op, args)
    assert fast is not None  # answered, not passed on
    assert _described(fast) == _described(op(*args))


@pytest.mark.parametrize("args", [
    lambda: (_meta(4, 3), _meta(1, 3)),  # broadcasting
    lambda: (_meta(4, 3), _meta(4, 3, dtype=torch.bfloat16)),  # type promotion
    lambda: (_meta(4, 6)[:, ::2], _meta(4, 6)[:, ::2]),  # a strided view
    lambda: (_meta(4, 3, dtype=torch.float64).to(torch.int64), _meta(4, 3).to(torch.int64)),
], ids=["broadcast", "promotion", "strided", "integer"])
def test_other_inputs_go_to_torchs_kernel(args: Callable[[], tuple[Any, ...]]) -> None:
    assert _shape_only(aten.add.Tensor, args()) is None


@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
def test_batch_norm_matches_torch(layout: str) -> None:
    x, c = INPUTS[layout](), 3
    w = _meta(c)
    train = (x, w, w, _meta(c), _meta(c), True, 0.1, 1e-5)
    assert _described(_shape_only(aten.native_batch_norm.default, train)) == _described(
        aten.native_batch_norm.default(*train))
    # In evaluation the CPU kernel keeps no statistics (torch's meta kernel says C of each).
    real = torch.randn(4, 3, 5, 5)
    cpu = aten.native_batch_norm.default(real, torch.ones(c), torch.zeros(c), torch.zeros(c),
                                         torch.ones(c), False, 0.1, 1e-5)
    fast = _shape_only(aten.native_batch_norm.default, (x, w, w, _meta(c), _meta(c), False,
                                                        0.1, 1e-5))
    assert [t.shape for t in fast[1:]] == [t.shape for t in cpu[1:]]
    for mask in ([True, True, True], [True, False, False]):
        back = (x, x, w, _meta(c), _meta(c), _meta(c), _meta(c), True, 1e-5, mask)
        assert _described(_shape_only(aten.native_batch_norm_backward.default, back)) == (
            _described(aten.native_batch_norm_backward.default(*back)))


def test_the_meter_sees_what_the_shortcuts_allocate() -> None:
    x = _meta(32, 1024)
    with ShapeOnlyKernels(), PeakMemoryMeter("meta") as meter:
        y = torch.relu(x)
        z = y + y
    assert meter.peak_bytes == 2 * 32 * 1024 * 4
    del z


def test_emulated_autocast_casts_as_cpu_autocast_does() -> None:
    torch.manual_seed(0)
    real = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 6 * 6, 4))
    meta = nn.Sequential(*(m.to_empty(device="meta") for m in (
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(288, 4))))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = [t.dtype for t in _trace(real, torch.randn(2, 3, 8, 8))]
    with emulated_autocast(torch.bfloat16, "cpu"):
        got = [t.dtype for t in _trace(meta, _meta(2, 3, 8, 8))]
    assert got == want and torch.bfloat16 in got


def _trace(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    outs = []
    for layer in model:
        x = layer(x)
        outs.extend(tree_leaves(x))
    return outs
