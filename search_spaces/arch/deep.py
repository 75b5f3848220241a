"""A very deep residual CNN of a given layer count, for the memory/recomputation benchmark."""

from __future__ import annotations

from collections.abc import Sequence

from search_spaces.arch.specs import BlockSpec, ConvNetSpec, StageSpec

_MAX_DOWNSAMPLES = 2


def max_downsamples(spatial: Sequence[int], min_spatial: int = 2) -> int:
    """How many stride-2 steps keep every spatial size >= ``min_spatial``.

    A stride-2, padding-1, kernel-3 conv maps size s to ceil(s / 2).
    """
    count, sizes = 0, list(spatial)
    # any(s > 1): a size-1 input halves to 1 again, so with min_spatial 1 it never stops.
    while sizes and any(s > 1 for s in sizes) and all((s + 1) // 2 >= min_spatial
                                                       for s in sizes):
        sizes = [(s + 1) // 2 for s in sizes]
        count += 1
    return count


def deep_resnet_spec(
    layers: int, input_shape: Sequence[int], num_classes: int, width: int = 16
) -> ConvNetSpec:
    """A residual CNN of exactly ``layers`` conv + Linear layers, every block a ``conv3``.

    Counting (see :func:`~search_spaces.arch.net.count_layers`): stem conv 1 + one stride-2
    transition conv per later stage + one conv per residual block + Linear head 1. Up to three
    stages of width ``width`` (fewer when the input is too small to halve), with the blocks
    spread evenly over them. Any ``layers >= 2`` is reached exactly; 1207 gives 1203 blocks
    over three stages on an 8x8 image. ``input_shape`` of 3 dims builds a cnn2d, of 1 or 2 a cnn1d.
    """
    shape = tuple(int(s) for s in input_shape)
    kind = "cnn2d" if len(shape) == 3 else "cnn1d"
    if layers < 2:
        raise ValueError(f"deep_resnet_spec.layers: need >= 2 (stem + head), got {layers}")
    spatial = shape[1:] if len(shape) in (2, 3) else shape
    downsamples = min(_MAX_DOWNSAMPLES, max_downsamples(spatial))
    # Each later stage costs a transition and needs at least one block of its own.
    while downsamples and layers - 2 - downsamples < downsamples + 1:
        downsamples -= 1
    stages_n = downsamples + 1
    blocks_n = layers - 2 - downsamples
    base, extra = divmod(blocks_n, stages_n)
    stages = tuple(
        StageSpec(
            width=width,
            blocks=(BlockSpec("conv3"),) * (base + (i < extra)),
            downsample=i > 0,
        )
        for i in range(stages_n)
    )
    return ConvNetSpec(
        kind=kind,
        input_shape=shape,
        num_classes=num_classes,
        stem_width=width,
        stages=stages,
        activation="relu",
        norm="batch",
    )
