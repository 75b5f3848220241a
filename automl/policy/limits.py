"""Cost limits as pure functions: which limit a candidate breaks, and the sampler's
constraint values (<= 0 means feasible, Optuna's convention)."""

from __future__ import annotations

from typing import Any

from automl.config import LimitsSection, StudyConfig
from automl.errors import ConfigError

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


def arch_sampler(cfg: StudyConfig, info: Any) -> Any:
    """``sample(trial) -> spec``: the study's architecture space for ``info``, its options
    checked (a bad option raises as :func:`search_spaces.make_options` does)."""
    from search_spaces import ARCH_SPACES, make_options

    space = ARCH_SPACES.get(cfg.search.arch)
    options = make_options(ARCH_SPACES.options_type(cfg.search.arch), cfg.search.arch_options,
                           "search.arch_options")
    return lambda trial: space(trial, info, options)


class StaticCosts:
    """Parameters and FLOPs of specs, built on the meta device once per spec."""

    def __init__(self) -> None:
        self._costs: dict[Any, Any] = {}

    def of(self, key: str) -> Any:
        """``cost(spec) -> float``: the spec's ``key`` (``params`` or ``flops``)."""
        from search_spaces.probe import spec_key
        from trainer import static_cost

        def cost(spec: Any) -> float:
            k = spec_key(spec)
            if k not in self._costs:
                self._costs[k] = static_cost(spec)
            return float(getattr(self._costs[k], key))

        return cost


def check_reachable(cfg: StudyConfig, info: Any) -> None:
    """Fail before the first trial when ``search.arch`` cannot take samples described by
    ``info`` (an ``InputInfo``), or when even its smallest candidate breaks
    ``limits.max_params`` or ``limits.max_flops`` (found by building candidates on the meta
    device; latency and memory need a real run).

    Otherwise every trial would fail or be pruned, one after the other.
    """
    from search_spaces.probe import smallest

    name, shape = cfg.search.arch, info.shape
    sample, costs = arch_sampler(cfg, info), StaticCosts()
    try:
        smallest(sample, costs.of("params"), max_evaluations=1)
    except Exception as exc:  # the space or the builder refuses this shape
        raise ConfigError(_cannot_take(name, shape, exc)) from None
    for field, key, _ in _LIMITS[:2]:
        bound = getattr(cfg.limits, field)
        if bound is None:
            continue
        _, least = smallest(sample, costs.of(key), target=bound)
        if least > bound:
            raise ConfigError(
                f"limits.{field}: no candidate of search.arch {name!r} meets {bound:,}; the "
                f"smallest found for samples of shape {shape} has {least:,.0f} {key}"
            )


def _cannot_take(name: str, shape: tuple[int, ...], exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    if text.startswith("search."):
        return text
    return f"search.arch: {name!r} cannot take samples of shape {shape}: {text}"
