"""``build_model(spec) -> SearchNet``: the one place a spec becomes a network."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from search_spaces.arch import blocks as B
from search_spaces.arch.checkpoint import Segment, check_mode, plan_segments, run_segments
from search_spaces.arch.ensemble import MemberHeads, MemberInputs
from search_spaces.arch.specs import (
    ARCH_KINDS,
    CONV_KINDS,
    ArchSpec,
    ConvNetSpec,
    MLPSpec,
)
from search_spaces.registry import Registry


class HeldOut(NamedTuple):
    """A data-dependent start's own held-out evidence: the classes it predicts for training
    samples it was fitted without (rocket's ridge head: leave-one-out, in closed form),
    beside their true classes."""

    pred: torch.Tensor
    target: torch.Tensor


def has_lone_class(target: torch.Tensor) -> bool:
    """Whether a class has a single sample in ``target``: left out, that sample's class is
    absent from the fit, so it is always wrong and a leave-one-out figure means nothing (52
    classes of one series read 0 %, whatever the features)."""
    return bool((torch.bincount(target.detach().cpu()) == 1).any())


class SearchNet(nn.Module):
    """``head(blocks(stem(x)))`` with optional activation recomputation over ``blocks``.

    ``blocks`` is the flat list of residual blocks in order (stage transitions included; an MLP's
    hidden layers). ``checkpointing`` is ``none``, ``blocks`` (every block) or ``sqrt``
    (ceil(sqrt(n)) segments); it only acts while training with gradients enabled, so evaluation
    and inference run the plain forward.
    """

    def __init__(
        self,
        stem: nn.Module,
        blocks: list[nn.Module],
        head: nn.Module,
        spec: ArchSpec | None = None,
        checkpointing: str = "none",
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.spec = spec
        self.checkpointing = checkpointing
        self._segments: tuple[tuple[str, tuple[int, ...]], list[Segment]] | None = None

    @property
    def checkpointing(self) -> str:
        return self._checkpointing

    @checkpointing.setter
    def checkpointing(self, mode: str) -> None:
        self._checkpointing = check_mode(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        mode = self.checkpointing
        if mode != "none" and self.training and torch.is_grad_enabled() and len(self.blocks):
            x = run_segments(self._plan(mode), x)
        else:
            for block in self.blocks:
                x = block(x)
        return self.head(x)

    def _plan(self, mode: str) -> list[Segment]:
        # Kept between steps (planning walks every submodule); rebuilt if blocks are replaced.
        key = (mode, tuple(map(id, self.blocks)))
        if self._segments is None or self._segments[0] != key:
            self._segments = (key, plan_segments(list(self.blocks), mode))
        return self._segments[1]

    @torch.no_grad()
    def fit_to_data(self, x: torch.Tensor, y: torch.Tensor) -> HeldOut | None:
        """Initialise from the training split, for kinds that have such a step (``rocket``:
        the transform's biases and a ridge fit of its head); nothing for the others. The
        trainer calls it once, before the first step, with the same data on every rank.
        Returns the fit's held-out evidence where it has some (rocket: leave-one-out)."""
        builder = ARCH_BUILDERS.get(self.spec.kind) if self.spec is not None else None
        if builder is not None and builder.fit_to_data is not None:
            return builder.fit_to_data(self, x, y)
        return None

    def extra_repr(self) -> str:
        return f"checkpointing={self.checkpointing!r}"


def _mlp(spec: MLPSpec) -> tuple[nn.Module, list[nn.Module], nn.Module]:
    width = math.prod(spec.input_shape)
    layers: list[nn.Module] = []
    for h in spec.hidden:
        norm = nn.BatchNorm1d(h) if spec.norm == "batch" else nn.Identity()
        linear = nn.Linear(width, h, bias=spec.norm == "none")
        act = B.activation(spec.activation)
        layers.append(nn.Sequential(linear, norm, act, nn.Dropout(spec.dropout)))
        width = h
    if spec.members > 1:  # an efficient ensemble (search_spaces.arch.ensemble)
        stem = nn.Sequential(nn.Flatten(1), MemberInputs(math.prod(spec.input_shape),
                                                          spec.members))
        return stem, layers, MemberHeads(width, spec.num_classes, spec.members)
    return nn.Flatten(1), layers, nn.Linear(width, spec.num_classes)


def _convnet(spec: ConvNetSpec) -> tuple[nn.Module, list[nn.Module], nn.Module]:
    dim, act, nk = spec.spatial_dims, spec.activation, spec.norm
    stem = nn.Sequential(
        B.AddChannelAxis(dim, spec.input_scale, spec.input_shift),
        B.conv(dim, spec.in_channels, spec.stem_width, 3, bias=nk == "none")
    )
    layers: list[nn.Module] = []
    width = spec.stem_width
    for stage in spec.stages:
        if stage.downsample or stage.width != width:
            stride = 2 if stage.downsample else 1
            layers.append(B.transition(dim, width, stage.width, stride, act, nk))
            width = stage.width
        layers.extend(B.conv_block(dim, block, width, act, nk) for block in stage.blocks)
    head = nn.Sequential(
        B.norm(dim, nk, width),
        B.activation(act),
        B.global_pool(dim),
        nn.Flatten(1),
        nn.Dropout(spec.dropout),
        nn.Linear(width, spec.num_classes),
    )
    return stem, layers, head


def _mlp_layers(spec: MLPSpec) -> int:
    return len(spec.hidden) + 1


def _convnet_layers(spec: ConvNetSpec) -> int:
    total, width = 2, spec.stem_width
    for stage in spec.stages:
        if stage.downsample or stage.width != width:
            total, width = total + 1, stage.width
        total += sum(B.op_layers(b) for b in stage.blocks)
    return total


@dataclass(frozen=True)
class ArchBuilder:
    """How one spec kind becomes a network: ``parts(spec) -> (stem, blocks, head)``, its
    Conv + Linear layer count read from the spec alone, and optionally a data-dependent
    initialisation ``fit_to_data(net, x_train, y_train)`` (see :meth:`SearchNet.fit_to_data`)."""

    parts: Callable[[Any], tuple[nn.Module, list[nn.Module], nn.Module]]
    count_layers: Callable[[Any], int]
    fit_to_data: Callable[[SearchNet, torch.Tensor, torch.Tensor], HeldOut | None] | None = None
    # Its head starts from a closed-form fit to the training data (rocket's ridge), so more
    # data improves it without the variance of another SGD run (see fitted_head).
    fitted_head: bool = False


# kind -> builder, beside specs.ARCH_KINDS (kind -> spec class); a new kind registers in both.
ARCH_BUILDERS: Registry[ArchBuilder] = Registry("architecture builder")
ARCH_BUILDERS.register("mlp")(ArchBuilder(_mlp, _mlp_layers))
for _kind in CONV_KINDS:
    ARCH_BUILDERS.register(_kind)(ArchBuilder(_convnet, _convnet_layers))


def fitted_head(spec: Any) -> bool:
    """Whether ``spec``'s network (a table's body, for a table) fits its head in closed form
    to the training data: a refit on more data measured +1.2 points for rocket and -1.2 for
    networks trained by SGD alone (benchmarks/RESULTS.md, issue 21)."""
    body = getattr(spec, "body", None)
    return _builder(spec if body is None else body, "fitted_head").fitted_head


def _builder(spec: Any, who: str) -> ArchBuilder:
    kind = getattr(spec, "kind", None)
    if not (isinstance(kind, str) and kind in ARCH_KINDS and kind in ARCH_BUILDERS
            and isinstance(spec, ARCH_KINDS.get(kind))):
        raise ValueError(f"{who}: not an architecture spec: {type(spec).__name__}")
    return ARCH_BUILDERS.get(kind)


def build_model(spec: ArchSpec, checkpointing: str = "none") -> SearchNet:
    """Build the network ``spec`` describes.

    The structure depends on the spec alone; weights come from torch's default RNG, so
    ``torch.manual_seed(s); build_model(spec)`` gives the same ``state_dict`` every time.
    Inputs are ``(N, *spec.input_shape)``; a conv net also takes samples without the channel
    axis (``(N, L)`` for cnn1d, ``(N, H, W)`` for cnn2d) as one channel.
    """
    stem, layers, head = _builder(spec, "build_model").parts(spec)
    return SearchNet(stem, layers, head, spec=spec, checkpointing=checkpointing)


def count_layers(spec: ArchSpec) -> int:
    """Conv + Linear layers of ``build_model(spec)``, counted from the spec.

    Counting: the conv stem 1; each stage transition (a width change or downsample) 1;
    conv3/conv5 1; dwsep 2 (depthwise + pointwise); mbconv 3 (expand, depthwise, project; 2
    at expansion 1); skip 0; the Linear head 1. An MLP counts its hidden layers plus the head.
    """
    return _builder(spec, "count_layers").count_layers(spec)
