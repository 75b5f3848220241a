"""Cost limits as pure functions: which limit a candidate breaks, and the sampler's
constraint values (<= 0 means feasible, Optuna's convention); whether a candidate's estimated
training memory fits; and the checks at the start of a search that some candidate can meet them.
"""

from __future__ import annotations

import dataclasses
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


# Estimated training memory may take this share of what one training process can still
# allocate: the rest is for what the estimate does not see (the interpreter and libraries,
# allocator slack, a CUDA context, cuDNN workspaces).
MEMORY_SHARE = 0.8
# The estimate prunes against limits.max_memory_mb only when this far over it: near the bound
# the peak measured in training decides (the estimate matched the CPU meter within 1 %).
ESTIMATE_SLACK = 1.1
_MB = 2**20


def violation(limits: LimitsSection, costs: dict[str, Any]) -> str | None:
    """A one-line reason for the first limit the known costs exceed, else None."""
    for field, key, unit in _LIMITS:
        bound, value = getattr(limits, field), costs.get(key)
        if bound is not None and value is not None and value > bound:
            return f"over budget: {key} {value:,.4g}{unit} > limits.{field} {bound:,.4g}{unit}"
    return None


def memory_violation(limits: LimitsSection, estimate: Any, available: int | None) -> str | None:
    """A one-line reason when a candidate's training memory, estimated before it is built
    (``estimate``: a :class:`trainer.memory_estimate.MemoryEstimate`), is well over
    ``limits.max_memory_mb`` (its ``step_peak``, the figure the limit holds measured peaks to)
    or more than :data:`MEMORY_SHARE` of the ``available`` bytes of one training process (its
    ``total``); else None. ``available`` None: unknown, not checked."""
    bound = limits.max_memory_mb
    peak_mb = estimate.step_peak / _MB
    if bound is not None and peak_mb > bound * ESTIMATE_SLACK:
        return (f"over budget: estimated peak_memory_mb {peak_mb:,.4g} MB > "
                f"limits.max_memory_mb {bound:,.4g} MB")
    if available is not None and estimate.total > MEMORY_SHARE * available:
        return (f"over memory: estimated training memory {_size(estimate.total)} > "
                f"{_size(MEMORY_SHARE * available)} usable by one training process "
                f"({MEMORY_SHARE:.0%} of {_size(available)} available)")
    return None


def memory_need(limits: LimitsSection, estimate: Any, available: int | None) -> float:
    """How much of what :func:`memory_violation` allows ``estimate`` takes: above 1 it is
    refused (0 when nothing bounds it)."""
    bound = limits.max_memory_mb
    shares = [0.0]
    if bound is not None:
        shares.append(estimate.step_peak / _MB / max(bound * ESTIMATE_SLACK, 1e-12))
    if available is not None:
        shares.append(estimate.total / max(MEMORY_SHARE * available, 1.0))
    return max(shares)


def trial_memory(limits: LimitsSection, arch: Any, train_cfg: Any, splits: Any
                 ) -> tuple[Any, str | None]:
    """A candidate's training memory, estimated on the meta device (None when an op of it has
    no meta kernel: only the peak measured in training counts then), and the reason it cannot
    train by :func:`memory_violation` against what one of its processes has on its device."""
    from trainer.memory_estimate import (
        available_memory,
        estimate_training_memory,
        training_device,
    )

    device = training_device(train_cfg.device)
    try:
        estimate = estimate_training_memory(arch, train_cfg, data=splits, device=device)
    except (NotImplementedError, RuntimeError, ValueError):  # training will say what it is
        return None, None
    return estimate, memory_violation(limits, estimate, available_memory(device, train_cfg.nproc))


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.3g} GB" if nbytes >= 2**30 else f"{nbytes / _MB:,.3g} MB"


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
    from search_spaces import arch_sampler as space_sampler

    # The space as the trials sample it (a coded table's encoding included), options checked
    # once: the cheap start probes it dozens of times.
    sample = space_sampler(cfg.search.arch, cfg.search.arch_options)
    return lambda trial: sample(trial, info)


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


def check_memory(cfg: StudyConfig, plan: Any, splits: Any) -> None:
    """Refuse, in one line, a search none of whose candidates fits in memory: when even the
    smallest that :func:`search_spaces.probe.smallest` finds, estimated at the smallest searched
    batch size with the cheaper optimizer searched, breaks :func:`memory_violation` (every
    trial would otherwise be pruned, one after the other). A few tens of milliseconds: one
    estimate on the meta device when the smallest candidate fits.

    The memory available is this machine's, so a cluster launcher's search, whose trials run
    elsewhere, is checked against ``limits.max_memory_mb`` alone, as is one whose trials may run
    on CUDA: asking a GPU here would load the driver in this process before the workers' devices
    are chosen. Each trial is still checked on the device it trains on.
    """
    import torch

    from search_spaces import sample_hparams
    from search_spaces.probe import ProbeTrial, smallest
    from trainer.memory_estimate import available_memory, estimate_training_memory

    t = cfg.trainer
    cpu = t.device == "cpu" or (t.device == "auto" and not torch.backends.cuda.is_built())
    here = cpu and cfg.cluster.launcher == "local"
    available = available_memory("cpu", t.nproc) if here else None
    if available is None and cfg.limits.max_memory_mb is None:
        return
    hp = sample_hparams(cfg.search.hparams, ProbeTrial({"optimizer": "sgd"}), plan.hparam_options)
    train_cfg = dataclasses.replace(t, batch_size=hp.batch_size, optimizer=hp.optimizer,
                                    weight_decay=hp.weight_decay)
    device = "cpu" if cpu else "cuda"

    def estimate(spec: Any, batch: int | None = None, eval_batch: int | None = None) -> Any:
        return estimate_training_memory(spec, train_cfg, data=splits, batch_size=batch,
                                        eval_batch_size=eval_batch, device=device)

    def need(spec: Any) -> float:  # the share of what is allowed: <= 1 fits
        return memory_need(cfg.limits, estimate(spec), available)

    try:
        spec, least = smallest(arch_sampler(cfg, plan.info), need, target=1.0,
                               max_evaluations=40)
        if least <= 1:
            return
        found = estimate(spec)
        # Two samples: the trainer never steps on one (batch norm cannot train on it).
        tiny = memory_need(cfg.limits, estimate(spec, min(2, hp.batch_size), 1), available)
    except (NotImplementedError, RuntimeError, ValueError):  # no estimate: let training say
        return
    why = memory_violation(cfg.limits, found, available) or ""
    if why.startswith("over budget"):
        field = "limits.max_memory_mb"
    elif available is not None and found.data > MEMORY_SHARE * available:
        field = "data.source"  # the splits alone, which the trainer holds on its device
    elif tiny > 1:
        field = "search.arch"  # not even the smallest batch fits
    elif found.eval_peak > found.step_peak:
        field = "trainer.eval_batch_size"
    else:
        field = "search.hparam_options.batch_sizes"
    raise ConfigError(f"{field}: no candidate of search.arch {cfg.search.arch!r} fits in "
                      f"memory at batch size {hp.batch_size}; the smallest found is {why}")
