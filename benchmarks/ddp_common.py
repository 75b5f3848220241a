"""What the distributed-trainer benchmarks (``comm.py``, ``scaling.py``) share: the machine line
and the plain-text table they print."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from benchmarks.common import cpu_model

# (header, width, format spec); a spec starting with "<" left-aligns the column.
Column = tuple[str, int, str]


def machine(device: str, ranks: str | None = None) -> str:
    """The accelerator(s) or the CPU the figures were measured on, for the printout and JSON."""
    if device == "cuda":
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    where = ranks or f"{os.cpu_count()} cores"
    return f"{cpu_model()}, {where}, torch {torch.__version__}"


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
    """One header line, then one line per row; a ``None`` cell prints blank."""

    def cell(value: Any, width: int, spec: str) -> str:
        align, spec = ("<", spec[1:]) if spec.startswith("<") else (">", spec)
        return f"{'' if value is None else format(value, spec):{align}{width}}"

    print("".join(cell(h, w, "<" if s.startswith("<") else "") for h, w, s in columns))
    for row in rows:
        print("".join(cell(v, w, s) for v, (_, w, s) in zip(row, columns, strict=True)))
