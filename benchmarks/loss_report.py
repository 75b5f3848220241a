"""The report of ``loss_robustness.py``: paired differences to fixed CE and the issue's goals."""

from __future__ import annotations

import statistics
from typing import Any

# The goals, in points of test accuracy: joint - fixed_ce per variant, at least ...
# The hand-designed loss families, each searched alone (names only: the spaces are automl's).
FAMILIES = ("gce", "sce", "nce_rce", "bootstrap", "logit_adjust", "balanced_softmax", "ldam")
BASELINE = "fixed_ce"
GOALS = {"sym40": 5.0, "lt50": 5.0, "clean": -0.5}
SYMBOLIC_GOAL = -1.0  # ... and symbolic - best single family, at least.



def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _std(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else (0.0 if values else None)


def summarize(runs: dict[tuple[str, str, int, str], dict[str, Any]], sets: list[str],
              variants: list[str], methods: list[str], seeds: list[int]) -> dict[str, Any]:
    """Per (set, variant): each method's test accuracy per seed, mean and std, its errors and
    chosen losses; each other method's paired per-seed difference to fixed_ce (points)."""
    cells: dict[str, dict[str, Any]] = {}
    for name in sets:
        cells[name] = {}
        for variant in variants:
            ms: dict[str, Any] = {}
            for m in methods:
                per_seed: dict[int, float] = {}
                losses: dict[int, str | None] = {}
                errors = []
                for s in seeds:
                    run = runs.get((name, variant, s, m))
                    if run is None:
                        continue
                    if run.get("error"):
                        errors.append(f"seed {s}: {run['error']}")
                    t = chosen_trial(run)
                    if t is not None:
                        per_seed[s] = float(t["test_accuracy"])
                        losses[s] = t.get("loss_formula") or t.get("loss_family")
                vals = list(per_seed.values())
                ms[m] = {"per_seed": per_seed, "mean": _mean(vals), "std": _std(vals),
                         "n": len(vals), "errors": errors, "chosen_loss": losses}
            vs: dict[str, Any] = {}
            base = ms.get(BASELINE, {}).get("per_seed", {})
            for m in methods:
                if m == BASELINE:
                    continue
                diffs = {s: 100 * (a - base[s]) for s, a in ms[m]["per_seed"].items() if s in base}
                vs[m] = {"per_seed": diffs, "mean": _mean(list(diffs.values())),
                         "n": len(diffs)}
            cells[name][variant] = {"methods": ms, "vs_fixed_ce": vs}
    groups: dict[str, dict[str, Any]] = {}
    for variant in variants:
        groups[variant] = {}
        for m in methods:
            if m == BASELINE:
                continue
            per_set = {name: cells[name][variant]["vs_fixed_ce"][m]["mean"] for name in sets}
            got = [v for v in per_set.values() if v is not None]
            groups[variant][m] = {"per_set": per_set, "mean": _mean(got), "sets": len(got),
                                  "of": len(sets)}
    return {"cells": cells, "groups": groups,
            "goals": goals(cells, groups, sets, variants, methods)}


def goals(cells: dict[str, Any], groups: dict[str, Any], sets: list[str], variants: list[str],
          methods: list[str]) -> dict[str, Any]:
    """The issue's goals, each with its figure, coverage and verdict (None: nothing to judge)."""
    out: dict[str, Any] = {}
    for variant, goal in GOALS.items():
        g = groups.get(variant, {}).get("joint")
        value = g["mean"] if g else None
        out[f"joint_vs_fixed_ce_{variant}"] = {
            "goal_points": goal, "value_points": value, "sets": g["sets"] if g else 0,
            "of": len(sets) if variant in variants else 0,
            "met": None if value is None else value >= goal}
    # Symbolic against the best single family, on the (set, variant) cells every one of them
    # has a figure for (a family without any figure is left out and named).
    hard = [(n, v) for n in sets for v in variants if v != "clean"]
    families = [m for m in methods if m.startswith("only_")]

    def mean_of(m: str, n: str, v: str) -> float | None:
        mean: float | None = cells[n][v]["methods"][m]["mean"]
        return mean

    present = [m for m in families if any(mean_of(m, n, v) is not None for n, v in hard)]
    sym: dict[str, Any] = {"goal_points": SYMBOLIC_GOAL, "met": None, "cells": 0,
                           "of": len(hard), "families": present,
                           "families_missing": [m for m in families if m not in present]}
    if "symbolic" in methods and present:
        common = [(n, v) for n, v in hard
                  if all(mean_of(m, n, v) is not None for m in ["symbolic", *present])]
        if common:
            means = {m: 100 * statistics.fmean(cells[n][v]["methods"][m]["mean"]
                                               for n, v in common)
                     for m in ["symbolic", *present]}
            best = max(present, key=lambda m: means[m])
            diff = means["symbolic"] - means[best]
            sym.update(cells=len(common), symbolic=means["symbolic"], best_family=best,
                       best_family_mean=means[best], family_means=means, value_points=diff,
                       met=diff >= SYMBOLIC_GOAL)
    out["symbolic_vs_best_family"] = sym
    return out


def _pct(mean: float | None, std: float | None = None, n: int = 0, of: int = 0) -> str:
    if mean is None:
        return "missing"
    text = f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std else "")
    return text + (f" ({n}/{of})" if n < of else "")


def _pts(value: float | None, n: int = 0, of: int = 0) -> str:
    if value is None:
        return "missing"
    return f"{value:+.1f}" + (f" ({n}/{of})" if n < of else "")


def _verdict(met: bool | None) -> str:
    return "MISSING" if met is None else "MET" if met else "NOT MET"


def print_report(summary: dict[str, Any], budgets: dict[str, float], sets: list[str],
                 variants: list[str], methods: list[str], seeds: list[int]) -> None:
    others = [m for m in methods if m != BASELINE]
    head = ["set", "variant", "T s", *methods, *[f"{m} − {BASELINE}" for m in others]]
    print(f"\n### Test accuracy % of the trial automl chose (mean ± std over {len(seeds)} "
          "seeds; (k/n): seeds present) and paired difference to fixed_ce (points)\n\n"
          f"| {' | '.join(head)} |\n|{'---|' * len(head)}")
    errors = []
    for name in sets:
        for variant in variants:
            cell = summary["cells"][name][variant]
            row = [name, variant, f"{budgets[name]:g}"]
            for m in methods:
                a = cell["methods"][m]
                row.append(_pct(a["mean"], a["std"], a["n"], len(seeds)))
                errors += [f"{name} {variant} {m} {e}" for e in a["errors"]]
            for m in others:
                d = cell["vs_fixed_ce"][m]
                row.append(_pts(d["mean"], d["n"], len(seeds)))
            print(f"| {' | '.join(row)} |")
    for e in errors:
        print(f"\nerror: {e}")
    if others:
        head = ["variant", *[f"{m} − {BASELINE}" for m in others]]
        print(f"\n### Paired difference to {BASELINE}, mean over sets (points; (k/n): sets "
              f"present)\n\n| {' | '.join(head)} |\n|{'---|' * len(head)}")
        for variant in variants:
            g = summary["groups"][variant]
            print(f"| {variant} | "
                  + " | ".join(_pts(g[m]["mean"], g[m]["sets"], g[m]["of"]) for m in others)
                  + " |")
    print("\n### Goals (issue 22)\n")
    for variant, goal in GOALS.items():
        g = summary["goals"][f"joint_vs_fixed_ce_{variant}"]
        cover = f"over {g['sets']} of {g['of']} sets" if g["of"] else "variant not run"
        print(f"- {variant}: joint − fixed_ce = {_pts(g['value_points'])} points {cover} "
              f"(goal ≥ {goal:+g}): {_verdict(g['met'])}"
              + (" (partial)" if g["met"] is not None and g["sets"] < g["of"] else ""))
    s = summary["goals"]["symbolic_vs_best_family"]
    if s["met"] is None:
        why = ("symbolic not run" if "symbolic" not in methods else
               "no only_<family> figures" if not s["families"] else
               "no (set, variant) with a figure for symbolic and every family")
        print(f"- symbolic vs the best single family (noisy and long-tailed variants): "
              f"MISSING ({why})")
    else:
        print(f"- symbolic vs the best single family over {s['cells']} of {s['of']} noisy and "
              f"long-tailed (set, variant) cells: {s['symbolic']:.1f} vs {s['best_family']} "
              f"{s['best_family_mean']:.1f} = {s['value_points']:+.1f} points (goal ≥ "
              f"{SYMBOLIC_GOAL:+g}): {_verdict(s['met'])}"
              + (f"; families without figures: {', '.join(s['families_missing'])}"
                 if s["families_missing"] else ""))


def chosen_trial(run: dict[str, Any]) -> dict[str, Any] | None:
    """The trial automl's ``best`` rule chose (recorded by ``run_automl``), with a test score."""
    for t in run.get("trials", []):
        if t.get("chosen") and t.get("test_accuracy") is not None:
            return dict(t)
    return None
