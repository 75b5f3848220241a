"""A layer table for dashboards, computed on the ``meta`` device (shapes only, no memory)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from search_spaces.arch.net import build_model
from search_spaces.arch.specs import ArchSpec

LEVELS = ("layer", "block")
# Leaves that neither hold weights nor change shapes only lengthen the table.
_QUIET = (nn.Identity, nn.Dropout, nn.Flatten)


def describe(spec: ArchSpec, level: str = "layer") -> list[dict[str, Any]]:
    """One row per layer (``level="layer"``: leaf modules) or per part (``"block"``: the stem,
    each entry of ``blocks`` and the head), in execution order.

    Each row is ``{"name", "type", "output_shape", "params"}``; ``output_shape`` is one
    sample's (no batch axis) and ``params`` counts the weights the row owns. The network is
    built on the meta device, so a thousand-layer spec costs no tensor memory and the global
    RNG is left as it was.
    """
    if level not in LEVELS:
        raise ValueError(f"describe.level: {level!r} is not one of {', '.join(LEVELS)}")
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        model = build_model(spec).eval()
    if level == "block":
        parts = [("stem", model.stem)]
        parts += [(f"blocks.{i}", b) for i, b in enumerate(model.blocks)]
        parts.append(("head", model.head))
    else:
        parts = [
            (name, m)
            for name, m in model.named_modules()
            if not list(m.children()) and not isinstance(m, _QUIET) and name
        ]
    rows: list[dict[str, Any]] = []
    hooks = []
    for name, module in parts:

        def hook(mod: nn.Module, args: Any, out: Any, name: str = name) -> None:
            rows.append(
                {
                    "name": name,
                    "type": getattr(mod, "op", None) or type(mod).__name__,
                    "output_shape": tuple(int(s) for s in out.shape[1:]),
                    "params": sum(p.numel() for p in mod.parameters()),
                }
            )

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.empty((1, *spec.input_shape), device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return rows
