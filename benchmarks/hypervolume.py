"""Pure analysis of the search-efficiency benchmark: hypervolume curves on a shared cost scale,
the best-by-validation pick, and one data set's summary over methods and seeds. The Pareto
front and the hypervolume themselves are :mod:`automl.policy.front`'s, the dashboard's too.

A trial is a plain dict: ``state``, ``t`` (seconds from the method's launch to the trial's end),
``val_accuracy``, ``val_loss``, ``test_accuracy``, ``flops`` and, where the method has it,
``cv_accuracy``. Points are ``(accuracy, cost)``: accuracy is maximized, cost minimized.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from automl.policy.front import hypervolume_steps, pareto_front
from automl.policy.ranking import Point
from benchmarks.specialists import SPECIALISTS

Trial = dict[str, Any]
# The hypervolume's reference point on the scaled axes: accuracy 0 and the top of the cost
# span of :func:`cost_bounds` (a little above the dearest trial of the whole data set).
UNIT_REF: Point = (0.0, 1.0)


def complete(trials: Iterable[Trial]) -> list[Trial]:
    """Fully trained trials with the figures a front needs (pruned trials were never finished)."""
    return [t for t in trials if t.get("state") == "COMPLETE"
            and t.get("val_accuracy") is not None and t.get("flops")]


def cost_bounds(flops: Iterable[float], margin: float = 0.05) -> tuple[float, float]:
    """(low, high) in log10 FLOPs: the span of ``flops`` widened by ``margin`` of it each side,
    so the cheapest point still has a little area and the dearest is not at the reference."""
    logs = [math.log10(max(f, 1.0)) for f in flops]
    if not logs:
        return 0.0, 1.0
    lo, hi = min(logs), max(logs)
    pad = max(hi - lo, 1.0) * margin
    return lo - pad, hi + pad


def scaled_cost(flops: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return (math.log10(max(flops, 1.0)) - lo) / (hi - lo)


def hv_curve(trials: Iterable[Trial], bounds: tuple[float, float]) -> list[Point]:
    """(time, hypervolume of the validation front of the trials finished by then), one step per
    completed trial, starting at (0, 0). Costs are :func:`scaled_cost`, the reference
    :data:`UNIT_REF`."""
    done = sorted(complete(trials), key=lambda t: t["t"])
    points = [(float(t["val_accuracy"]), scaled_cost(t["flops"], bounds)) for t in done]
    steps = hypervolume_steps(points, UNIT_REF)
    return [(0.0, 0.0)] + [(float(t["t"]), hv) for t, hv in zip(done, steps, strict=True)]


def hv_at(curve: Sequence[Point], time: float) -> float:
    """The step curve's value at ``time``."""
    value = 0.0
    for t, hv in curve:
        if t > time:
            break
        value = hv
    return value


def first_time_reaching(curve: Sequence[Point], target: float) -> float | None:
    """When the curve first reaches ``target`` (a tiny tolerance for float sums), else None."""
    for t, hv in curve:
        if hv >= target - 1e-12:
            return t
    return None


def best_by_validation(trials: Iterable[Trial]) -> Trial | None:
    """The completed trial with the best validation accuracy, ties to lower validation loss, then
    fewer FLOPs. When some trials carry a cross-validated accuracy, the best of those by it
    (ties to the lower cross-validated loss): a method that measured more than one split gets
    to use it. A run that marks a trial ``chosen`` (automl: the trial ``automl export --trial
    best`` takes, by its own rule) is judged by that trial."""
    done = complete(trials)
    chosen = [t for t in done if t.get("chosen")]
    if chosen:
        return chosen[0]
    with_cv = [t for t in done if t.get("cv_accuracy") is not None]
    key_acc, key_loss = ("cv_accuracy", "cv_loss") if with_cv else ("val_accuracy", "val_loss")
    pool = with_cv or done
    if not pool:
        return None

    def loss(t: Trial) -> float:
        value = t.get(key_loss)
        return float("inf") if value is None or value != value else float(value)

    return min(pool, key=lambda t: (-t[key_acc], loss(t), t["flops"]))


def validation_front(trials: Iterable[Trial]) -> list[Trial]:
    """The completed trials on the (val accuracy up, FLOPs down) Pareto front."""
    done = complete(trials)
    idx = pareto_front([(float(t["val_accuracy"]), float(t["flops"])) for t in done])
    return [done[i] for i in idx]


def cheapest_matching(front: Iterable[Trial], target: float, tol: float = 0.002) -> Trial | None:
    """The cheapest front member whose test accuracy is at least ``target - tol``."""
    ok = [t for t in front if t.get("test_accuracy") is not None
          and t["test_accuracy"] >= target - tol]
    return min(ok, key=lambda t: t["flops"]) if ok else None


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation of the non-None values (std 0 for one value)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def _run_row(run: dict[str, Any], budget: float, bounds: tuple[float, float]) -> dict[str, Any]:
    """One (method, seed) run's figures."""
    row: dict[str, Any] = {"wall_s": run["wall_s"], "overrun_s": run["wall_s"] - budget,
                           "error": run.get("error")}
    if run["method"] in SPECIALISTS:
        return {**row, "test_accuracy": run.get("test_accuracy"),
                "fit_predict_s": run.get("fit_predict_s"), "first_fit_s": run.get("first_fit_s")}
    trials = run.get("trials", [])
    best = best_by_validation(trials)
    curve = hv_curve(trials, bounds)
    states = Counter(t["state"] for t in trials)
    return {
        **row, "test_accuracy": best["test_accuracy"] if best else None,
        "val_accuracy": best["val_accuracy"] if best else None,
        "best_flops": best["flops"] if best else None,
        "best_family": best.get("family") if best else None,
        "complete": states["COMPLETE"], "pruned": states["PRUNED"], "failed": states["FAIL"],
        "families": dict(Counter(str(t.get("family")) for t in complete(trials))),
        "final_hv": curve[-1][1], "curve": curve,
    }


def _vs_loop(loop: dict[str, Any], other: dict[str, Any], budget: float) -> dict[str, Any]:
    """How ``other`` (an automl run) stands against the loop of the same seed: the FLOPs of its
    cheapest validation-front member that matches the loop's chosen model on test, as a ratio
    to that model's FLOPs, and when its hypervolume first reached the loop's final one."""
    best = best_by_validation(loop["trials"])
    ratio = None
    if best is not None and best["test_accuracy"] is not None:
        match = cheapest_matching(validation_front(other["trials"]), best["test_accuracy"])
        if match is not None and best["flops"]:
            ratio = match["flops"] / best["flops"]
    reach = first_time_reaching(other["row"]["curve"], loop["row"]["final_hv"])
    return {"flops_ratio": ratio, "t_reach_frac": None if reach is None else reach / budget}


def summarize_set(runs: Sequence[dict[str, Any]], budget: float,
                  margin: float = 0.05) -> dict[str, Any]:
    """Every method's figures on one data set, per seed and as mean / std over seeds.

    The cost axis is normalized once for the whole set (log10 FLOPs over every completed trial
    of every method and seed), so hypervolumes compare across methods and seeds.
    """
    flops = [t["flops"] for r in runs for t in complete(r.get("trials", []))]
    bounds = cost_bounds(flops, margin)
    by_method: dict[str, dict[int, dict[str, Any]]] = {}
    for run in runs:
        by_method.setdefault(run["method"], {})[run["seed"]] = {
            **run, "row": _run_row(run, budget, bounds)}
    methods: dict[str, Any] = {}
    for method, seeds in by_method.items():
        rows = [s["row"] for s in seeds.values()]
        agg: dict[str, Any] = {"seeds": {str(k): v["row"] for k, v in sorted(seeds.items())}}
        for key in ("test_accuracy", "final_hv", "complete", "pruned", "failed", "wall_s",
                    "overrun_s", "fit_predict_s"):
            if any(key in r for r in rows):
                agg[f"{key}_mean"], agg[f"{key}_std"] = mean_std(r.get(key) for r in rows)
        agg["errors"] = sorted({r["error"] for r in rows if r.get("error")})
        methods[method] = agg
    vs_loop: dict[str, Any] = {}
    for method in ("loop_asha", "automl", "automl_ce", "automl_norocket", "automl_rocket"):
        pairs = [(by_method["loop"][s], run) for s, run in by_method.get(method, {}).items()
                 if s in by_method.get("loop", {})]
        if pairs:
            per = [_vs_loop(a, b, budget) for a, b in pairs]
            vs_loop[method] = {
                "per_seed": per,
                "flops_ratio_mean": mean_std(p["flops_ratio"] for p in per)[0],
                "t_reach_frac_mean": mean_std(p["t_reach_frac"] for p in per)[0],
                "reached": sum(p["t_reach_frac"] is not None for p in per),
            }
    return {"budget_s": budget, "cost_bounds_log10": list(bounds), "methods": methods,
            "vs_loop": vs_loop}
