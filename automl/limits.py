"""Cost limits as pure functions: which limit a candidate breaks, and the sampler's
constraint values (<= 0 means feasible, Optuna's convention)."""

from __future__ import annotations

from typing import Any

from automl.config import LimitsSection

# (limit field, cost key, unit for messages)
_LIMITS = (
    ("max_params", "params", ""),
    ("max_flops", "flops", ""),
    ("max_latency_ms", "latency_ms", " ms"),
    ("max_memory_mb", "peak_memory_mb", " MB"),
)


def violation(limits: LimitsSection, costs: dict[str, Any]) -> str | None:
    """A one-line reason for the first limit the known costs exceed, else None."""
    for field, key, unit in _LIMITS:
        bound, value = getattr(limits, field), costs.get(key)
        if bound is not None and value is not None and value > bound:
            return f"over budget: {key} {value:,.4g}{unit} > limits.{field} {bound:,.4g}{unit}"
    return None


def constraint_values(limits: LimitsSection, costs: dict[str, Any]) -> list[float]:
    """One value per configured limit, relative to the bound; unknown costs count as feasible."""
    out = []
    for field, key, _ in _LIMITS:
        bound = getattr(limits, field)
        if bound is not None:
            value = costs.get(key)
            out.append(0.0 if value is None else (float(value) - bound) / max(bound, 1e-12))
    return out
