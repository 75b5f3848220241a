"""Architecture specs: frozen, hashable, JSON round-trippable descriptions of a network.

A spec says everything :func:`~search_spaces.arch.net.build_model` needs, so the same spec always
builds the same network. ``to_dict`` gives plain JSON types (lists, not tuples); ``from_dict``
turns them back and rejects unknown fields and bad values with a ValueError naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces._fields import (
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_tuple,
    check_keys,
    field_names,
    ints_from,
    required_fields,
    set_field,
    to_jsonable,
)
from search_spaces.arch.table_spec import TableSpec
from search_spaces.registry import Registry

OPS = ("conv3", "conv5", "dwsep", "mbconv", "skip")
ACTIVATIONS = ("relu", "gelu", "silu", "hardswish")
NORMS = ("batch", "none")
CONV_KINDS = ("cnn1d", "cnn2d")
SERIES_VIEWS = ("best", "centred", "shipped")  # RocketSpec.series_view
ROCKET_KERNELS = 84  # MiniRocket's kernels: every way to place three 2s among nine -1s
# Sample ndims each conv kind accepts: without and with a channel axis.
CONV_SAMPLE_NDIMS = {"cnn1d": (1, 2), "cnn2d": (2, 3)}


def _shape(what: str, value: Any) -> tuple[int, ...]:
    return as_tuple(what, "input_shape", value, ints_from(1, what))


def set_series_affine(spec: Any, w: str) -> None:
    """Check and set ``input_scale`` / ``input_shift``: both empty, or one finite value per step
    of a ``(L,)`` sample, scales > 0 (see ``blocks.AddChannelAxis``)."""
    scale = as_tuple(w, "input_scale", spec.input_scale, lambda f, v: as_float(w, f, v, 1e-30),
                     nonempty=False)
    shift = as_tuple(w, "input_shift", spec.input_shift, lambda f, v: as_float(w, f, v),
                     nonempty=False)
    if scale or shift:
        steps = spec.input_shape[0] if len(spec.input_shape) == 1 else None
        if steps is None or len(scale) != steps or len(shift) != steps:
            raise ValueError(f"{w}.input_scale: need one scale and one shift per step of an "
                             f"(L,) sample, got {len(scale)} and {len(shift)} for "
                             f"{spec.input_shape}")
    set_field(spec, "input_scale", scale)
    set_field(spec, "input_shift", shift)


@dataclass(frozen=True)
class BlockSpec:
    """One block of a stage. ``expansion`` is the mbconv ratio (1 for every other op)."""

    op: str
    expansion: int = 1
    residual: bool = True

    def __post_init__(self) -> None:
        w = "BlockSpec"
        set_field(self, "op", as_choice(w, "op", self.op, OPS))
        set_field(self, "expansion", as_int(w, "expansion", self.expansion, 1))
        set_field(self, "residual", as_bool(w, "residual", self.residual))
        if self.op != "mbconv" and self.expansion != 1:
            # One network, one spec: an ignored field would make equal networks unequal specs.
            raise ValueError(f"{w}.expansion: only mbconv takes an expansion, got {self.op}")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> BlockSpec:
        check_keys("BlockSpec", d, field_names(cls), required_fields(cls))
        return cls(**d)


@dataclass(frozen=True)
class StageSpec:
    """Blocks at one width; ``downsample`` halves the spatial size at the stage start."""

    width: int
    blocks: tuple[BlockSpec, ...]
    downsample: bool = False

    def __post_init__(self) -> None:
        w = "StageSpec"
        set_field(self, "width", as_int(w, "width", self.width, 1))
        set_field(self, "blocks", as_tuple(w, "blocks", self.blocks, _block, nonempty=False))
        set_field(self, "downsample", as_bool(w, "downsample", self.downsample))

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> StageSpec:
        check_keys("StageSpec", d, field_names(cls), required_fields(cls))
        blocks = as_tuple("StageSpec", "blocks", d["blocks"], lambda f, b: BlockSpec.from_dict(b),
                          nonempty=False)
        return cls(**{**d, "blocks": blocks})


def _block(field: str, b: Any) -> BlockSpec:
    if not isinstance(b, BlockSpec):
        raise ValueError(f"StageSpec.{field}: need a BlockSpec, got {type(b).__name__}")
    return b


def _stage(field: str, s: Any) -> StageSpec:
    if not isinstance(s, StageSpec):
        raise ValueError(f"ConvNetSpec.{field}: need a StageSpec, got {type(s).__name__}")
    return s


@dataclass(frozen=True, kw_only=True)
class MLPSpec:
    """A multilayer perceptron on the flattened input: Linear, norm, activation, dropout;
    ``members`` > 1 makes it an efficient ensemble of that many (``arch/ensemble.py``)."""

    kind: str = "mlp"
    input_shape: tuple[int, ...]
    num_classes: int
    hidden: tuple[int, ...]
    activation: str = "relu"
    norm: str = "none"
    dropout: float = 0.0
    members: int = 1

    def __post_init__(self) -> None:
        w = "MLPSpec"
        set_field(self, "kind", as_choice(w, "kind", self.kind, ("mlp",)))
        set_field(self, "input_shape", _shape(w, self.input_shape))
        set_field(self, "num_classes", as_int(w, "num_classes", self.num_classes, 1))
        hidden = as_tuple(w, "hidden", self.hidden, ints_from(1, w), nonempty=False)
        set_field(self, "hidden", hidden)
        set_field(self, "activation", as_choice(w, "activation", self.activation, ACTIVATIONS))
        set_field(self, "norm", as_choice(w, "norm", self.norm, NORMS))
        set_field(self, "dropout", as_float(w, "dropout", self.dropout, 0.0, 1.0, hi_open=True))
        set_field(self, "members", as_int(w, "members", self.members, 1))

    def to_dict(self) -> dict[str, Any]:
        d = to_jsonable(self)
        if self.members == 1:  # a plain MLP: the dict it had before ensembles, byte for byte
            del d["members"]
        return d

    @classmethod
    def from_dict(cls, d: Any) -> MLPSpec:
        check_keys("MLPSpec", d, field_names(cls), required_fields(cls))
        return cls(**d)


@dataclass(frozen=True, kw_only=True)
class ConvNetSpec:
    """A stage-based residual CNN; ``kind`` picks 1-D (sequences) or 2-D (images) layers."""

    kind: str
    input_shape: tuple[int, ...]
    num_classes: int
    stem_width: int
    stages: tuple[StageSpec, ...]
    activation: str = "relu"
    norm: str = "batch"
    dropout: float = 0.0
    input_scale: tuple[float, ...] = ()  # (L,) series read as shipped (set_series_affine)
    input_shift: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        w = "ConvNetSpec"
        set_field(self, "kind", as_choice(w, "kind", self.kind, CONV_KINDS))
        shape = _shape(w, self.input_shape)
        if len(shape) not in CONV_SAMPLE_NDIMS[self.kind]:
            raise ValueError(
                f"{w}.input_shape: {self.kind} takes a sample shape of "
                f"{' or '.join(str(n) for n in CONV_SAMPLE_NDIMS[self.kind])} dims, got {shape}"
            )
        set_field(self, "input_shape", shape)
        set_field(self, "num_classes", as_int(w, "num_classes", self.num_classes, 1))
        set_field(self, "stem_width", as_int(w, "stem_width", self.stem_width, 1))
        set_field(self, "stages", as_tuple(w, "stages", self.stages, _stage, nonempty=False))
        set_field(self, "activation", as_choice(w, "activation", self.activation, ACTIVATIONS))
        set_field(self, "norm", as_choice(w, "norm", self.norm, NORMS))
        set_field(self, "dropout", as_float(w, "dropout", self.dropout, 0.0, 1.0, hi_open=True))
        set_series_affine(self, w)

    @property
    def spatial_dims(self) -> int:
        return 1 if self.kind == "cnn1d" else 2

    @property
    def in_channels(self) -> int:
        """Channels of a sample; a shape without a channel axis means one channel."""
        return self.input_shape[0] if len(self.input_shape) == self.spatial_dims + 1 else 1

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> ConvNetSpec:
        check_keys("ConvNetSpec", d, field_names(cls), required_fields(cls))
        stages = as_tuple("ConvNetSpec", "stages", d["stages"],
                          lambda f, s: StageSpec.from_dict(s), nonempty=False)
        return cls(**{**d, "stages": stages})


@dataclass(frozen=True, kw_only=True)
class RocketSpec:
    """MiniRocket features (Dempster et al. 2021) under a trained linear head: the 84 fixed
    length-9 kernels run at every one of ``dilations``; at dilation i each kernel gives
    ``per_dilation[i]`` features, the proportion of positive values (PPV) above that many
    biases, quantiles of the convolution output on training series. Only the head (``norm``,
    ``dropout``, a Linear layer) is trained, from a closed-form ridge fit."""

    kind: str = "rocket"
    input_shape: tuple[int, ...]
    num_classes: int
    dilations: tuple[int, ...]
    per_dilation: tuple[int, ...]
    norm: str = "batch"
    dropout: float = 0.0
    input_scale: tuple[float, ...] = ()  # (L,) series read as shipped (set_series_affine)
    input_shift: tuple[float, ...] = ()
    series_view: str = "best"  # centred, shipped, or the best by leave-one-out (arch/rocket)

    def __post_init__(self) -> None:
        w = "RocketSpec"
        set_field(self, "series_view", as_choice(w, "series_view", self.series_view, SERIES_VIEWS))
        set_field(self, "kind", as_choice(w, "kind", self.kind, ("rocket",)))
        shape = _shape(w, self.input_shape)
        if len(shape) not in (1, 2):
            raise ValueError(f"{w}.input_shape: rocket takes (L,) or (C, L) samples, got {shape}")
        set_field(self, "input_shape", shape)
        set_field(self, "num_classes", as_int(w, "num_classes", self.num_classes, 1))
        set_field(self, "dilations", as_tuple(w, "dilations", self.dilations, ints_from(1, w)))
        per = as_tuple(w, "per_dilation", self.per_dilation, ints_from(1, w))
        if len(per) != len(self.dilations):
            raise ValueError(f"{w}.per_dilation: need one count per dilation "
                             f"({len(self.dilations)}), got {len(per)}")
        set_field(self, "per_dilation", per)
        set_field(self, "norm", as_choice(w, "norm", self.norm, NORMS))
        set_field(self, "dropout", as_float(w, "dropout", self.dropout, 0.0, 1.0, hi_open=True))
        set_series_affine(self, w)

    @property
    def in_channels(self) -> int:
        return self.input_shape[0] if len(self.input_shape) == 2 else 1

    @property
    def n_features(self) -> int:
        return ROCKET_KERNELS * sum(self.per_dilation)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Any) -> RocketSpec:
        check_keys("RocketSpec", d, field_names(cls), required_fields(cls))
        return cls(**d)


ArchSpec = MLPSpec | ConvNetSpec | RocketSpec | TableSpec


def arch_to_dict(spec: ArchSpec) -> dict[str, Any]:
    """The spec as plain JSON types; ``kind`` tells :func:`arch_from_dict` which spec it is."""
    return spec.to_dict()


# kind -> spec class: what arch_from_dict rebuilds. The builder registers each kind's network in
# net.ARCH_BUILDERS; a contract test checks every kind has one.
ARCH_KINDS: Registry[type[ArchSpec]] = Registry("architecture spec kind")
ARCH_KINDS.register("mlp")(MLPSpec)
for _kind in CONV_KINDS:
    ARCH_KINDS.register(_kind)(ConvNetSpec)
ARCH_KINDS.register("rocket")(RocketSpec)
ARCH_KINDS.register("table")(TableSpec)


def arch_from_dict(d: Any) -> ArchSpec:
    """Rebuild a spec from :func:`arch_to_dict`'s output (or its JSON round trip)."""
    if not isinstance(d, dict):
        raise ValueError(f"arch spec: need a mapping, got {type(d).__name__}")
    kind = d.get("kind")
    if not isinstance(kind, str) or kind not in ARCH_KINDS:
        known = ", ".join(ARCH_KINDS.ordered())
        raise ValueError(f"arch spec.kind: unknown kind {kind!r}; known: {known}")
    if kind == "table":  # the one nested kind: its body is rebuilt here, where every kind is known
        body = d.get("body")
        if isinstance(body, dict) and body.get("kind") == "table":
            raise ValueError("arch spec.body: a table's body cannot be another table")
        return TableSpec.from_dict({**d, "body": arch_from_dict(body)})
    return ARCH_KINDS.get(kind).from_dict(d)
