"""Numbers for people: counts as 1.15M, accuracies with four decimals (a perfect score reads
1.0000, not 1), seconds and megabytes with three significant digits. Pure."""

from __future__ import annotations

import math
from typing import Any

COUNTS = frozenset({"params", "flops", "comm_bytes_per_step"})
ACCURACIES = frozenset({"val_accuracy", "test_accuracy", "cv_accuracy", "best_val_accuracy"})
# Plotly (d3) formats for hovers and axes, by column: "s" is d3's SI prefix (1.15M, 3.2G).
D3 = {"params": ".3s", "flops": ".3s", "comm_bytes_per_step": ".3s", "latency_ms": ".3g",
      "peak_memory_mb": ".3g", "val_accuracy": ".4f"}
_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def si(value: float, digits: int = 3) -> str:
    """1152000 -> "1.15M", 950 -> "950", 12345678901 -> "12.3G" (``digits`` significant)."""
    v = float(value)
    for scale, prefix in _PREFIXES:
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g}{prefix}"
    return f"{v:.{digits}g}"


def human(field: str, value: Any) -> str:
    """``value`` of the column or attribute ``field``, for a table cell or a metric."""
    if missing(value):
        return "—"  # a lone "-" would render as a Markdown bullet in tables
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if field in ACCURACIES:
        return f"{float(value):.4f}"
    if field in COUNTS:
        return si(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    return f"{float(value):.3g}"
