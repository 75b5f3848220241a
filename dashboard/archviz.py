"""An architecture spec (the stored dict) as a Graphviz diagram and as a layer table.

Both come from :func:`dashboard.layers.parts`, computed from the dict without torch, so the
diagram's boxes and the table's ``part`` column carry the same names (``stem``, ``stage 1
transition``, ``stage 1``, ``head``). A spec that module does not know (say from a newer
version) still gets a diagram and a table read from the dict as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from dashboard.layers import ROCKET_KERNELS, Part, layer_table, parts

MAX_NODES = 40  # beyond this a diagram is unreadable; runs of equal blocks are merged anyway


def _q(text: str) -> str:
    # A JSON string is a valid quoted DOT identifier; keep "×" and "·" as they are.
    return json.dumps(text, ensure_ascii=False)


def arch_dot(spec: Mapping[str, Any] | None) -> str:
    """Graphviz DOT source, top to bottom: input, the layers or stages (each stage transition,
    the strided or widening convolution, in a box of its own), the classifier head."""
    spec = spec or {}
    try:
        nodes = _table_nodes(spec) if spec.get("kind") == "table" else _nodes(spec)
    except (KeyError, TypeError, ValueError):
        nodes = _nodes_from_dict(spec)
    if len(nodes) > MAX_NODES:
        nodes = nodes[: MAX_NODES - 2] + [f"… {len(nodes) - MAX_NODES + 1} more"] + nodes[-1:]
    lines = [
        "digraph arch {",
        "  rankdir=TB; ranksep=0.25;",
        "  edge [arrowsize=0.6];",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#7f9cc4",',
        '        fontname="Helvetica", fontsize=10, height=0.3];',
    ]
    lines += [f"  n{i} [label={_q(label)}];" for i, label in enumerate(nodes)]
    lines += [f"  n{i} -> n{i + 1};" for i in range(len(nodes) - 1)]
    return "\n".join(lines + ["}"])


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _table_nodes(spec: Mapping[str, Any]) -> list[str]:
    """A coded table: its columns, the encoder, then the body's diagram after its input."""
    cols = spec["columns"]
    cats = sum(1 for c in cols if c["kind"] == "categorical")
    how = ("one-hot" if spec["encoding"] == "onehot"
           else f"embeddings (width ≤ {spec['embed_dim']})")
    width = _shape(tuple(spec["body"]["input_shape"]))
    return [f"table row\n{len(cols)} columns ({cats} categorical)",
            f"encoder: {how}, missing values imputed and flagged\n{width}",
            *_nodes(spec["body"])[1:]]


def _nodes(spec: Mapping[str, Any]) -> list[str]:
    norm = "BN · " if spec.get("norm", "batch") not in (None, "none") else ""
    extra = f"{norm}{spec.get('activation', '?')}"
    nodes = [f"input\n{_shape(tuple(spec.get('input_shape', [])))}"]
    by_label = groupby(parts(spec), key=lambda p: p.label)
    for label, group in by_label:
        members = list(group)
        first: Part = members[0]
        if label == "input (flattened)":
            continue
        if label == "MiniRocket features":
            dil = spec.get("dilations") or []
            nodes.append(f"MiniRocket: {ROCKET_KERNELS} kernels × {len(dil)} dilations (frozen)\n"
                         f"{first.shape[0]} PPV features")
            continue
        if label.startswith("hidden"):
            nodes.append(f"{label}: Linear {first.shape[0]}\n{extra}")
        elif label == "stem":
            nodes.append(f"stem: conv k3 → {first.shape[0]}\n{_shape(first.shape)}")
        elif label.endswith("transition"):
            down = _stage(spec, label).get("downsample")
            nodes.append(f"{label}: conv k3{', stride 2' if down else ''} → {first.shape[0]}"
                         f"\n{_shape(first.shape)}")
        elif label == "head":
            if spec.get("dropout"):
                nodes.append(f"dropout {float(spec['dropout']):.2g}")
            pool = "global average pool · " if "stages" in spec else ""
            nodes.append(f"head: {pool}Linear → {spec.get('num_classes', '?')} classes")
        else:  # a stage's blocks
            ops = [_block_label(b) for b in _stage_blocks(spec, label)]
            runs = [f"{op} ×{n}" if (n := len(list(g))) > 1 else op for op, g in groupby(ops)]
            nodes.append(f"{label}: width {first.shape[0]}\n" + "\n".join(runs[:8])
                         + ("\n…" if len(runs) > 8 else "") + f"\n{_shape(members[-1].shape)}")
    return nodes


def _stage(spec: Mapping[str, Any], label: str) -> Mapping[str, Any]:
    stage: Mapping[str, Any] = (spec.get("stages") or [])[int(label.split()[1])]
    return stage


def _stage_blocks(spec: Mapping[str, Any], label: str) -> list[Mapping[str, Any]]:
    return list(_stage(spec, label).get("blocks", []))


def _nodes_from_dict(spec: Mapping[str, Any]) -> list[str]:
    """What the dict says, for a spec :mod:`dashboard.layers` cannot read."""
    shape = "×".join(str(s) for s in spec.get("input_shape", [])) or "?"
    nodes = [f"input\n{shape}"]
    if "hidden" in spec:
        nodes += [f"Linear {h}" for h in spec.get("hidden") or []]
    elif "stages" in spec:
        nodes.append(f"stem conv {spec.get('stem_width', '?')}")
        for i, stage in enumerate(spec.get("stages") or []):
            down = " ↓2" if stage.get("downsample") else ""
            ops = [_block_label(b) for b in stage.get("blocks", [])]
            nodes.append(f"stage {i}: width {stage.get('width')}{down}\n" + "\n".join(ops[:8]))
    else:
        nodes.append(str(spec.get("kind", "unknown architecture")))
    nodes.append(f"Linear → {spec.get('num_classes', '?')} classes")
    return nodes


def _block_label(block: Mapping[str, Any]) -> str:
    op = str(block.get("op", "?"))
    if op == "mbconv":
        op += f" e{block.get('expansion', 1)}"
    return op + (" +res" if block.get("residual") else "")


def layer_rows(spec: Mapping[str, Any], level: str = "layer") -> tuple[list[dict[str, Any]], str]:
    """``(rows, source)``: one row per layer with part, name, type, output shape and
    parameters, and where the numbers come from (for a caption). Computed from the spec by
    :func:`dashboard.layers.layer_table` (no torch; the same rows as
    :func:`search_spaces.describe`); a spec it cannot read falls back to the dict itself,
    where only MLP parameter counts are known."""
    try:
        return layer_table(spec, level), "computed from the spec"
    except Exception as exc:  # any failure here must leave the rest of the page working
        return _rows_from_dict(spec), f"read from the spec ({type(exc).__name__}: {exc})"


def _rows_from_dict(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if "hidden" in spec:
        width = math.prod(int(s) for s in spec.get("input_shape", [1]))
        for i, h in enumerate(spec.get("hidden") or []):
            bn = 2 * h if spec.get("norm") == "batch" else 0
            rows.append({"part": f"hidden {i}", "name": f"hidden.{i}", "type": "Linear",
                         "output_shape": str(h),
                         "params": width * h + h + bn})
            width = h
        classes, k = int(spec.get("num_classes", 0)), spec.get("members")
        k = k if isinstance(k, int) and k > 1 else 1  # read as data: the page must not break
        rows.append({"part": "head", "name": "head", "type": "Linear" if k == 1 else
                     "MemberHeads", "output_shape": str(classes),
                     "params": k * (width * classes + classes)})
        return rows
    rows.append({"part": "stem", "name": "stem", "type": "conv",
                 "output_shape": str(spec.get("stem_width")), "params": None})
    for i, stage in enumerate(spec.get("stages") or []):
        for j, block in enumerate(stage.get("blocks", [])):
            rows.append({"part": f"stage {i}", "name": f"stages.{i}.{j}",
                         "type": _block_label(block),
                         "output_shape": str(stage.get("width")), "params": None})
    rows.append({"part": "head", "name": "head", "type": "Linear",
                 "output_shape": str(spec.get("num_classes")), "params": None})
    return rows
