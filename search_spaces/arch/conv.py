"""The ``cnn1d`` and ``cnn2d`` spaces: stage-based residual CNNs, one sampler for both.

Trial parameters (i: stage, j: block; conditional ones are only asked when they matter):
``stem_width``, ``n_stages``, ``s{i}_width``, ``s{i}_down`` (only while the input can still be
halved), ``s{i}_blocks``, ``s{i}_b{j}_op``, ``s{i}_b{j}_exp`` (mbconv only), ``s{i}_b{j}_res``
(not for skip), ``activation``, ``norm``, ``dropout`` (only when ``dropout_max > 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces._fields import as_choices, as_int, bools, choices_of, ints_from, set_field
from search_spaces.arch.deep import max_downsamples
from search_spaces.arch.mlp import MLPOptions, sample_dropout
from search_spaces.arch.specs import (
    ACTIVATIONS,
    CONV_SAMPLE_NDIMS,
    NORMS,
    OPS,
    BlockSpec,
    ConvNetSpec,
    StageSpec,
)
from search_spaces.base import ARCH_SPACES, InputInfo, TrialLike
from search_spaces.registry import FieldError


@dataclass(frozen=True)
class ConvOptions:
    """Bounds of the ``cnn1d`` / ``cnn2d`` spaces.

    The defaults keep a candidate small enough to train an epoch of a ~1000-sample dataset in
    well under a second on two CPU cores. ``min_spatial`` bounds downsampling: a stage may only
    halve the input while every spatial size stays >= it (8x8 digits: at most 2 halvings).
    """

    max_stages: int = 3
    min_blocks: int = 1
    max_blocks: int = 2
    widths: tuple[int, ...] = (16, 24, 32, 48, 64)
    stem_widths: tuple[int, ...] = (16, 24, 32)
    ops: tuple[str, ...] = OPS
    expansions: tuple[int, ...] = (2, 4, 6)
    residuals: tuple[bool, ...] = (True, False)
    activations: tuple[str, ...] = ACTIVATIONS
    norms: tuple[str, ...] = NORMS
    dropout_max: float = 0.3
    min_spatial: int = 2

    def __post_init__(self) -> None:
        set_field(self, "max_stages", as_int(None, "max_stages", self.max_stages, 1))
        set_field(self, "min_blocks", as_int(None, "min_blocks", self.min_blocks, 0))
        set_field(self, "max_blocks", as_int(None, "max_blocks", self.max_blocks, 0))
        if self.max_blocks < self.min_blocks:
            raise FieldError("max_blocks", f"need >= min_blocks ({self.min_blocks})")
        for name in ("widths", "stem_widths", "expansions"):
            set_field(self, name, as_choices(None, name, getattr(self, name), ints_from(1)))
        set_field(self, "ops", as_choices(None, "ops", self.ops, choices_of(OPS)))
        set_field(self, "residuals", as_choices(None, "residuals", self.residuals, bools()))
        # Activations, norms and dropout are checked exactly as the MLP's are.
        shared = MLPOptions(
            activations=self.activations, norms=self.norms, dropout_max=self.dropout_max
        )
        for name in ("activations", "norms", "dropout_max"):
            set_field(self, name, getattr(shared, name))
        set_field(self, "min_spatial", as_int(None, "min_spatial", self.min_spatial, 1))


def _sample_block(trial: TrialLike, o: ConvOptions, prefix: str) -> BlockSpec:
    op = trial.suggest_categorical(f"{prefix}_op", o.ops)
    expansion = trial.suggest_categorical(f"{prefix}_exp", o.expansions) if op == "mbconv" else 1
    residual = trial.suggest_categorical(f"{prefix}_res", o.residuals) if op != "skip" else True
    return BlockSpec(op, expansion=expansion, residual=residual)


def sample_convnet(
    kind: str, trial: TrialLike, info: InputInfo, options: ConvOptions | None = None
) -> ConvNetSpec:
    """Sample a ``kind`` (cnn1d | cnn2d) network for samples of shape ``info.shape``."""
    o = options or ConvOptions()
    ndims = CONV_SAMPLE_NDIMS[kind]
    if len(info.shape) not in ndims:
        raise ValueError(
            f"{kind}: needs a sample shape of {' or '.join(map(str, ndims))} dims "
            f"(channel axis optional), got {info.shape}"
        )
    spatial = info.shape[-(ndims[0]) :]
    # A (L,) series a 1-D CNN reads as shipped (per-step standardization would flatten its
    # shape); only (L,) samples have the affine, and cnn2d takes none of them.
    scale, shift = info.series_affine or ((), ())
    budget = max_downsamples(spatial, o.min_spatial)
    stem_width = trial.suggest_categorical("stem_width", o.stem_widths)
    stages = []
    for i in range(trial.suggest_int("n_stages", 1, o.max_stages)):
        width = trial.suggest_categorical(f"s{i}_width", o.widths)
        down = bool(trial.suggest_categorical(f"s{i}_down", (False, True))) if budget else False
        budget -= down
        n_blocks = trial.suggest_int(f"s{i}_blocks", o.min_blocks, o.max_blocks)
        blocks = tuple(_sample_block(trial, o, f"s{i}_b{j}") for j in range(n_blocks))
        stages.append(StageSpec(width, blocks, downsample=down))
    return ConvNetSpec(
        kind=kind,
        input_shape=info.shape,
        num_classes=info.num_classes,
        stem_width=stem_width,
        stages=tuple(stages),
        activation=trial.suggest_categorical("activation", o.activations),
        norm=trial.suggest_categorical("norm", o.norms),
        dropout=sample_dropout(trial, o.dropout_max),
        input_scale=scale,
        input_shift=shift,
    )


@ARCH_SPACES.register("cnn1d", options=ConvOptions)
def cnn1d_space(
    trial: TrialLike, info: InputInfo, options: ConvOptions | None = None
) -> ConvNetSpec:
    """Sample a 1-D CNN for sequences ``(C, L)`` or ``(L,)``."""
    return sample_convnet("cnn1d", trial, info, options)


@ARCH_SPACES.register("cnn2d", options=ConvOptions)
def cnn2d_space(
    trial: TrialLike, info: InputInfo, options: ConvOptions | None = None
) -> ConvNetSpec:
    """Sample a 2-D CNN for images ``(C, H, W)`` or ``(H, W)``."""
    return sample_convnet("cnn2d", trial, info, options)
