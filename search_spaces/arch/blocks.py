"""Layers for 1-D and 2-D networks, written once and parametrized by the spatial dimension.

Conv blocks are pre-activation (norm, activation, conv; He et al. 2016, "Identity Mappings"):
the residual path stays a pure sum, so a thousand-block network starts with activations that
grow like sqrt(depth) rather than exponentially, and the head's norm + activation finishes the
last block. Convolutions drop their bias when a norm follows, since the norm's shift replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from search_spaces.arch.specs import BlockSpec

_CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL: dict[int, type[nn.Module]] = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}
_ACT: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
}

# Conv + Linear layers each op adds; ``count_layers`` and ``deep_resnet_spec`` rely on it.
OP_LAYERS = {"conv3": 1, "conv5": 1, "dwsep": 2, "mbconv": 3, "skip": 0}


def op_layers(block: BlockSpec) -> int:
    """Conv layers in one block (an mbconv of expansion 1 has no expanding 1x1 conv)."""
    if block.op == "mbconv" and block.expansion == 1:
        return 2
    return OP_LAYERS[block.op]


def activation(name: str) -> nn.Module:
    return _ACT[name]()


def norm(dim: int, kind: str, channels: int) -> nn.Module:
    return _NORM[dim](channels) if kind == "batch" else nn.Identity()


def conv(
    dim: int, cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1, bias: bool
) -> nn.Module:
    return _CONV[dim](
        cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=bias
    )


def global_pool(dim: int) -> nn.Module:
    return _POOL[dim](1)


def register_series_affine(module: nn.Module, scale: Sequence[float], shift: Sequence[float]
                           ) -> bool:
    """Give ``module`` buffers ``scale`` and ``shift`` (a 1-D spec's ``input_scale`` and
    ``input_shift``, one per step) when there are any; whether there were. The shift is
    centred (its mean taken off: the series' mean over their deviation, ``m / s`` in
    :func:`search_spaces.base.series_affine`), so the module reads each series as
    ``(x - m) / s``; rocket's fit may put the mean back (:func:`centred_shift`). Without them
    the module's state dict is what it was before specs had the two fields."""
    if scale:
        module.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        module.register_buffer("shift", centred_shift(shift))
    return bool(scale)


def centred_shift(shift: Sequence[float]) -> torch.Tensor:
    """``shift`` less its mean, in float32 (computed in float64: a spec's shifts are exact)."""
    t = torch.tensor(shift, dtype=torch.float64)
    return (t - t.mean()).float()


def one_channel(x: torch.Tensor, dim: int, affine: nn.Module | None = None) -> torch.Tensor:
    """``x`` with a channel axis when it has none (``(N, L)`` for ``dim`` 1): with ``affine``
    (a module with :func:`register_series_affine` buffers), first ``x * scale + shift``, which
    reads series standardized per time step, as flat samples are, as shipped (up to one affine),
    as a signal network wants them."""
    if x.dim() != dim + 1:
        return x
    if affine is not None:
        x = x * affine.get_buffer("scale").to(x.dtype) + affine.get_buffer("shift").to(x.dtype)
    return x.unsqueeze(1)


class AddChannelAxis(nn.Module):
    """Give a sample without a channel axis one channel (:func:`one_channel`)."""

    def __init__(self, dim: int, scale: Sequence[float] = (), shift: Sequence[float] = ()
                 ) -> None:
        super().__init__()
        self.dim = dim
        self.reread = register_series_affine(self, scale, shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return one_channel(x, self.dim, self if self.reread else None)

    def extra_repr(self) -> str:
        return f"dim={self.dim}" + (", reread" if self.reread else "")


class Block(nn.Module):
    """``x + body(x)`` when ``residual``, else ``body(x)``; ``op`` names it for tables."""

    def __init__(self, op: str, body: nn.Module, residual: bool) -> None:
        super().__init__()
        self.op = op
        self.body = body
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y

    def extra_repr(self) -> str:
        return f"op={self.op!r}, residual={self.residual}"


def conv_block(dim: int, spec: BlockSpec, width: int, act: str, norm_kind: str) -> Block:
    """A same-width, stride-1 block for ``spec.op``."""
    bias = norm_kind == "none"
    w = width
    if spec.op == "skip":
        # x + x would double the signal; a skip block is the identity whatever ``residual`` says.
        return Block("skip", nn.Identity(), residual=False)
    if spec.op in ("conv3", "conv5"):
        k = 3 if spec.op == "conv3" else 5
        body = nn.Sequential(
            norm(dim, norm_kind, w), activation(act), conv(dim, w, w, k, bias=bias)
        )
    elif spec.op == "dwsep":
        body = nn.Sequential(
            norm(dim, norm_kind, w),
            activation(act),
            conv(dim, w, w, 3, groups=w, bias=bias),
            norm(dim, norm_kind, w),
            activation(act),
            conv(dim, w, w, 1, bias=bias),
        )
    else:  # mbconv: MobileNetV2's inverted residual, linear at the projection.
        hidden = w * spec.expansion
        expand: list[nn.Module] = []
        if spec.expansion != 1:
            expand = [
                conv(dim, w, hidden, 1, bias=bias),
                norm(dim, norm_kind, hidden),
                activation(act),
            ]
        body = nn.Sequential(
            norm(dim, norm_kind, w),
            *expand,
            conv(dim, hidden, hidden, 3, groups=hidden, bias=bias),
            norm(dim, norm_kind, hidden),
            activation(act),
            conv(dim, hidden, w, 1, bias=bias),
        )
    return Block(spec.op, body, residual=spec.residual)


def transition(dim: int, cin: int, cout: int, stride: int, act: str, norm_kind: str) -> Block:
    """Stage start: one conv that changes the width and/or strides by 2 (no residual)."""
    body = nn.Sequential(
        norm(dim, norm_kind, cin),
        activation(act),
        conv(dim, cin, cout, 3, stride=stride, bias=norm_kind == "none"),
    )
    return Block("transition", body, residual=False)
