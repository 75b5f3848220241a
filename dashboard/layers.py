"""The layer table of an architecture spec, computed from the stored dict alone. Pure: no torch.

It mirrors :func:`search_spaces.arch.net.build_model` and :func:`search_spaces.describe` row for
row (names, types, output shapes, parameter counts; a test builds the real network and compares),
so the trial page shows it without importing torch. Every row also names its *part* (``stem``,
``stage 1 transition``, ``stage 1``, ``head``, ``hidden 0``); the diagram in
:mod:`dashboard.archviz` draws the same parts under the same names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACTS = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "hardswish": "Hardswish"}
LEVELS = ("layer", "block")


@dataclass
class Part:
    """One entry of ``SearchNet``'s stem / blocks / head, with its leaf layers."""

    name: str  # the module path: stem, blocks.3, head
    label: str  # what the diagram and the table call it: "stage 1 transition"
    type: str  # Block.op for blocks ("transition", "conv3"...), else the module type
    shape: tuple[int, ...]  # output shape of one sample
    layers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(int(r["params"]) for r in self.layers)


class _Builder:
    """Walks a spec like the builders do, tracking one sample's shape."""

    def __init__(self, spec: Mapping[str, Any], dim: int) -> None:
        self.spec, self.dim = spec, dim
        self.batch = spec.get("norm", "batch") == "batch"
        self.act = ACTS[str(spec.get("activation", "relu"))]

    def seq(self, prefix: str, shape: tuple[int, ...], steps: list[tuple[str, Any]]
            ) -> tuple[list[dict[str, Any]], tuple[int, ...]]:
        """Rows of an ``nn.Sequential`` (indices count Identity norms, which show no row)."""
        rows: list[dict[str, Any]] = []
        for i, (kind, arg) in enumerate(steps):
            name = f"{prefix}.{i}"
            if kind == "norm":
                if self.batch:
                    rows.append(self.row(name, f"BatchNorm{self.dim}d", shape, 2 * shape[0]))
            elif kind == "act":
                rows.append(self.row(name, self.act, shape, 0))
            elif kind == "conv":
                cout, k, stride, groups = arg
                cin = shape[0]
                spatial = tuple((n - 1) // stride + 1 for n in shape[1:])
                shape = (cout, *spatial)
                weights = cin // groups * cout * k ** self.dim + (0 if self.batch else cout)
                rows.append(self.row(name, f"Conv{self.dim}d", shape, weights))
        return rows, shape

    @staticmethod
    def row(name: str, kind: str, shape: tuple[int, ...], params: int) -> dict[str, Any]:
        return {"name": name, "type": kind, "output_shape": shape, "params": params}


def parts(spec: Mapping[str, Any]) -> list[Part]:
    """The network's stem, blocks and head, in execution order (raises on a spec this module
    does not know, such as one from a newer version)."""
    kind = spec.get("kind")
    if kind == "mlp":
        return _mlp_parts(spec)
    if kind in ("cnn1d", "cnn2d"):
        return _conv_parts(spec, 1 if kind == "cnn1d" else 2)
    if kind == "rocket":
        return _rocket_parts(spec)
    if kind == "table":
        return _table_parts(spec)
    raise ValueError(f"unknown architecture kind {kind!r}")


def _table_parts(spec: Mapping[str, Any]) -> list[Part]:
    """The body's parts, its stem preceded by the encoder: the network's stem is
    ``Sequential(encoder, body stem)``, so the encoder is ``stem.0`` and the body's stem
    layers move under ``stem.1``."""
    body = spec["body"]
    width = math.prod(int(s) for s in body["input_shape"])
    dim = int(spec["embed_dim"])
    # An Embedding per embedded column (under one-hot, those with more than ONEHOT_MAX_LEVELS
    # levels); with none, the encoder is one weightless layer.
    onehot = spec.get("encoding") == "onehot"
    slots = [int(c["levels"]) + 1 for c in spec["columns"] if c["kind"] == "categorical"
             and not (onehot and int(c["levels"]) <= ONEHOT_MAX_LEVELS)]
    encoder = [{"name": f"stem.0.tables.{k}", "type": "Embedding",
                "output_shape": (min(dim, n),), "params": n * min(dim, n)}
               for k, n in enumerate(slots)]
    if not slots:
        encoder = [{"name": "stem.0", "type": "TableEncoder", "output_shape": (width,),
                    "params": 0}]
    out = parts(body)
    stem = out[0]
    for row in stem.layers:
        row["name"] = "stem.1" + row["name"][len("stem"):]
    out[0] = Part("stem", f"table encoder, {stem.label}", "Sequential", stem.shape,
                  [*encoder, *stem.layers])
    return out


def _mlp_parts(spec: Mapping[str, Any]) -> list[Part]:
    b = _Builder(spec, 1)
    width = math.prod(int(s) for s in spec["input_shape"])
    k = int(spec.get("members") or 1)  # an efficient ensemble (search_spaces/arch/ensemble.py)
    out = [Part("stem", "input (flattened)", "Flatten", (width,))]
    if k > 1:
        signs = [b.row("stem.1", "MemberInputs", (width,), k * width)]
        out = [Part("stem", f"input (flattened) x {k} members", "Sequential", (width,), signs)]
    for i, h in enumerate(spec.get("hidden") or []):
        rows = [b.row(f"blocks.{i}.0", "Linear", (h,), width * h + (0 if b.batch else h))]
        if b.batch:
            rows.append(b.row(f"blocks.{i}.1", "BatchNorm1d", (h,), 2 * h))
        rows.append(b.row(f"blocks.{i}.2", b.act, (h,), 0))
        out.append(Part(f"blocks.{i}", f"hidden {i}", "Sequential", (h,), rows))
        width = h
    classes = int(spec["num_classes"])
    if k > 1:
        heads = [b.row("head", "MemberHeads", (classes,), k * (width * classes + classes))]
        return [*out, Part("head", f"{k} heads, mean probability", "MemberHeads", (classes,),
                           heads)]
    head = [b.row("head", "Linear", (classes,), width * classes + classes)]
    out.append(Part("head", "head", "Linear", (classes,), head))
    return out


ROCKET_KERNELS = 84  # search_spaces.arch.specs.ROCKET_KERNELS (a test builds both and compares)
ONEHOT_MAX_LEVELS = 64  # search_spaces.arch.table_spec's (the same test)


def _rocket_parts(spec: Mapping[str, Any]) -> list[Part]:
    b = _Builder(spec, 1)
    n = ROCKET_KERNELS * sum(int(q) for q in spec["per_dilation"])
    stem = Part("stem", "MiniRocket features", "RocketFeatures", (n,),
                [b.row("stem", "RocketFeatures", (n,), 0)])
    classes = int(spec["num_classes"])
    rows = [b.row("head.0", "BatchNorm1d", (n,), 2 * n)] if b.batch else []
    rows.append(b.row("head.2", "Linear", (classes,), n * classes + classes))
    return [stem, Part("head", "head", "Sequential", (classes,), rows)]


def _conv_parts(spec: Mapping[str, Any], dim: int) -> list[Part]:
    b = _Builder(spec, dim)
    shape_in = tuple(int(s) for s in spec["input_shape"])
    if len(shape_in) == dim:  # no channel axis: one channel
        shape_in = (1, *shape_in)
    stem_rows = [b.row("stem.0", "AddChannelAxis", shape_in, 0)]
    rows, shape = b.seq("stem", shape_in, [("", None), ("conv", (spec["stem_width"], 3, 1, 1))])
    stem_rows += rows
    out = [Part("stem", "stem", "Sequential", shape, stem_rows)]
    j = 0
    for i, stage in enumerate(spec.get("stages") or []):
        width = int(stage["width"])
        if stage.get("downsample") or width != shape[0]:
            stride = 2 if stage.get("downsample") else 1
            rows, shape = b.seq(f"blocks.{j}.body", shape,
                                [("norm", None), ("act", None), ("conv", (width, 3, stride, 1))])
            out.append(Part(f"blocks.{j}", f"stage {i} transition", "transition", shape, rows))
            j += 1
        for block in stage.get("blocks") or []:
            rows, shape = b.seq(f"blocks.{j}.body", shape, _block_steps(block, width))
            out.append(Part(f"blocks.{j}", f"stage {i}", str(block.get("op")), shape, rows))
            j += 1
    rows, _ = b.seq("head", shape, [("norm", None), ("act", None)])
    pooled = (shape[0],) + (1,) * dim
    rows.append(b.row("head.2", f"AdaptiveAvgPool{dim}d", pooled, 0))
    classes = int(spec["num_classes"])
    rows.append(b.row("head.5", "Linear", (classes,), shape[0] * classes + classes))
    out.append(Part("head", "head", "Sequential", (classes,), rows))
    return out


def _block_steps(block: Mapping[str, Any], w: int) -> list[tuple[str, Any]]:
    op = block.get("op")
    if op == "skip":
        return []
    if op in ("conv3", "conv5"):
        return [("norm", None), ("act", None), ("conv", (w, 3 if op == "conv3" else 5, 1, 1))]
    if op == "dwsep":
        return [("norm", None), ("act", None), ("conv", (w, 3, 1, w)),
                ("norm", None), ("act", None), ("conv", (w, 1, 1, 1))]
    if op == "mbconv":
        e = int(block.get("expansion", 1))
        hidden = w * e
        expand = [("conv", (hidden, 1, 1, 1)), ("norm", None), ("act", None)] if e != 1 else []
        return [("norm", None), *expand, ("conv", (hidden, 3, 1, hidden)), ("norm", None),
                ("act", None), ("conv", (w, 1, 1, 1))]
    raise ValueError(f"unknown block op {op!r}")


def layer_table(spec: Mapping[str, Any], level: str = "layer") -> list[dict[str, Any]]:
    """Rows ``{"part", "name", "type", "output_shape", "params"}``: one per leaf layer
    (``level="layer"``, as :func:`search_spaces.describe` lists them) or per stem / block /
    head (``"block"``). ``output_shape`` is one sample's, as text (``16×4×4``)."""
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    rows: list[dict[str, Any]] = []
    for part in parts(spec):
        if level == "block":
            rows.append({"part": part.label, "name": part.name, "type": part.type,
                         "output_shape": part.shape, "params": part.params})
        else:
            rows += [{"part": part.label, **r} for r in part.layers]
    return [{**r, "output_shape": "×".join(map(str, r["output_shape"]))} for r in rows]
