"""An architecture spec (the stored dict) as a Graphviz diagram and as a layer table.

The diagram is drawn from the dict alone. The layer table comes from
:func:`search_spaces.describe` (shapes and parameter counts from a meta-device build, which
imports torch) and falls back to what the dict says when that is not possible.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from itertools import groupby
from typing import Any

MAX_NODES = 40  # beyond this a diagram is unreadable; runs of equal blocks are merged anyway


def _q(text: str) -> str:
    # A JSON string is a valid quoted DOT identifier; keep "×" and "·" as they are.
    return json.dumps(text, ensure_ascii=False)


def arch_dot(spec: Mapping[str, Any] | None) -> str:
    """Graphviz DOT source, top to bottom: input, the layers or stages, the classifier head."""
    spec = spec or {}
    shape = "×".join(str(s) for s in spec.get("input_shape", [])) or "?"
    nodes = [f"input\n{shape}"]
    norm = spec.get("norm", "none")
    act = spec.get("activation", "?")
    extra = f"{'BN · ' if norm not in (None, 'none') else ''}{act}"
    if "hidden" in spec:
        nodes += [f"Linear {h}\n{extra}" for h in spec.get("hidden") or []]
    elif "stages" in spec:
        nodes.append(f"stem conv {spec.get('stem_width', '?')}\n{extra}")
        for i, stage in enumerate(spec.get("stages") or []):
            down = " ↓2" if stage.get("downsample") else ""
            ops = [_block_label(b) for b in stage.get("blocks", [])]
            runs = [f"{op} ×{n}" if (n := len(list(g))) > 1 else op for op, g in groupby(ops)]
            nodes.append(f"stage {i}: width {stage.get('width')}{down}\n" + "\n".join(runs[:8])
                         + ("\n…" if len(runs) > 8 else ""))
        nodes.append("global average pool")
    else:
        nodes.append(str(spec.get("kind", "unknown architecture")))
    if spec.get("dropout"):
        nodes.append(f"dropout {float(spec['dropout']):.2g}")
    nodes.append(f"Linear → {spec.get('num_classes', '?')} classes")
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


def _block_label(block: Mapping[str, Any]) -> str:
    op = str(block.get("op", "?"))
    if op == "mbconv":
        op += f" e{block.get('expansion', 1)}"
    return op + (" +res" if block.get("residual") else "")


def layer_rows(spec: Mapping[str, Any], level: str = "layer") -> tuple[list[dict[str, Any]], str]:
    """``(rows, source)``: one row per layer with name, type, output shape and parameters.

    ``source`` says where the numbers come from, for a caption: a meta-device build through
    :func:`search_spaces.describe`, or, if that cannot run (package missing, a spec from an
    older version), the spec dict itself, where only MLP parameter counts are known.
    """
    try:
        from search_spaces import arch_from_dict, describe

        rows = describe(arch_from_dict(dict(spec)), level=level)
        return [{**r, "output_shape": "×".join(map(str, r["output_shape"]))} for r in rows], (
            "built on the meta device by search_spaces.describe"
        )
    except Exception as exc:  # any failure here must leave the rest of the page working
        return _rows_from_dict(spec), f"read from the spec ({type(exc).__name__}: {exc})"


def _rows_from_dict(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if "hidden" in spec:
        width = math.prod(int(s) for s in spec.get("input_shape", [1]))
        for i, h in enumerate(spec.get("hidden") or []):
            bn = 2 * h if spec.get("norm") == "batch" else 0
            rows.append({"name": f"hidden.{i}", "type": "Linear", "output_shape": str(h),
                         "params": width * h + h + bn})
            width = h
        classes = int(spec.get("num_classes", 0))
        rows.append({"name": "head", "type": "Linear", "output_shape": str(classes),
                     "params": width * classes + classes})
        return rows
    rows.append({"name": "stem", "type": "conv", "output_shape": str(spec.get("stem_width")),
                 "params": None})
    for i, stage in enumerate(spec.get("stages") or []):
        for j, block in enumerate(stage.get("blocks", [])):
            rows.append({"name": f"stages.{i}.{j}", "type": _block_label(block),
                         "output_shape": str(stage.get("width")), "params": None})
    rows.append({"name": "head", "type": "Linear", "output_shape": str(spec.get("num_classes")),
                 "params": None})
    return rows
