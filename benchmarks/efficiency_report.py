"""The tables and plots of ``search_efficiency.py`` (figures in, Markdown and PNG out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.hypervolume import hv_at, mean_std, summarize_set
from benchmarks.specialists import SPECIALISTS
from benchmarks.suite import SUITE


def _pct(mean: float | None, std: float | None = None) -> str:
    if mean is None:
        return "–"
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std else "")


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "–" if value is None else format(value, fmt)


def print_set(name: str, s: dict[str, Any]) -> None:
    ds = SUITE[name]
    print(f"\n### {name} ({ds.kind}, T = {s['budget_s']:g} s)\n\n| method | test acc % "
          "| best-model FLOPs (per seed) | complete | pruned | final HV | wall s (overrun) |\n"
          "|---|---|---|---|---|---|---|")
    for m, a in s["methods"].items():
        flops = ", ".join(_num(r.get("best_flops"), ".3g") for r in a["seeds"].values())
        wall = f"{a['wall_s_mean']:.1f} ({a['overrun_s_mean']:+.1f})"
        if m in SPECIALISTS:
            wall = f"{a['wall_s_mean']:.1f} (fit+predict {a['fit_predict_s_mean']:.2f})"
        print(f"| {m} | {_pct(a['test_accuracy_mean'], a['test_accuracy_std'])} | {flops} "
              f"| {_num(a.get('complete_mean'), '.1f')} | {_num(a.get('pruned_mean'), '.1f')} "
              f"| {_num(a.get('final_hv_mean'))} | {wall} |")
        for err in a["errors"]:
            print(f"\n{m} error: {err}")
    for m, v in s["vs_loop"].items():
        ratios = ", ".join(_num(p["flops_ratio"], ".3g") for p in v["per_seed"])
        reach = ", ".join(_num(p["t_reach_frac"], ".2f") for p in v["per_seed"])
        print(f"\n{m} vs loop: FLOPs of the cheapest validation-front member within 0.2 points "
              f"of the loop model's test accuracy / that model's FLOPs: {ratios}; time to reach "
              f"the loop's final HV (x T): {reach}", end="")
    if ds.reference:
        print("\npublished (Fawaz et al. 2019): "
              + ", ".join(f"{k} {v:.1f}" for k, v in ds.reference.items()), end="")
    print()


def print_summary(sets: dict[str, Any], methods: list[str]) -> None:
    head = ["set", "T s", *methods, "published", "HV loop", "HV automl", "automl FLOPs ratio",
            "automl reaches loop HV (x T)"]
    print("\n### Summary: test accuracy % of the best-by-validation model (mean ± std over "
          f"seeds)\n\n| {' | '.join(head)} |\n|{'---|' * len(head)}")
    for name, s in sets.items():
        ms, vs = s["methods"], s["vs_loop"].get("automl")
        ref = max(SUITE[name].reference.values(), default=None)
        cells = [name, f"{s['budget_s']:g}"]
        cells += [_pct(ms[m]["test_accuracy_mean"], ms[m]["test_accuracy_std"]) if m in ms
                  else "–" for m in methods]
        cells += [_num(ref, ".1f"), _num(ms.get("loop", {}).get("final_hv_mean")),
                  _num(ms.get("automl", {}).get("final_hv_mean"))]
        if vs:
            cells += [_num(vs["flops_ratio_mean"], ".3g"),
                      f"{_num(vs['t_reach_frac_mean'], '.2f')} "
                      f"({vs['reached']}/{len(vs['per_seed'])} seeds)"]
        else:
            cells += ["–", "–"]
        print(f"| {' | '.join(cells)} |")


def _paired(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Mean over the seeds both methods ran of a's test accuracy minus b's."""
    diffs = [r["test_accuracy"] - b["seeds"][k]["test_accuracy"] for k, r in a["seeds"].items()
             if k in b["seeds"] and r.get("test_accuracy") is not None
             and b["seeds"][k].get("test_accuracy") is not None]
    return sum(diffs) / len(diffs) if diffs else None


def goals(sets: dict[str, Any], method: str = "automl") -> dict[str, Any]:
    """Issue 21's goals per set: ``method`` minus the loop and minus the specialist of the set's
    kind (the specialist with the best mean there), each as the mean of paired per-seed
    differences, and the largest overrun of T; across the suite, the two means."""
    rows, ours, theirs = {}, [], []
    for name, s in sets.items():
        ms = s["methods"]
        if method not in ms:
            continue
        spec = max((m for m in ms if m in SPECIALISTS and ms[m]["test_accuracy_mean"] is not None),
                   key=lambda m: ms[m]["test_accuracy_mean"], default=None)
        rows[name] = {
            "mean": ms[method]["test_accuracy_mean"], "specialist": spec,
            "vs_loop": _paired(ms[method], ms["loop"]) if "loop" in ms else None,
            "vs_specialist": _paired(ms[method], ms[spec]) if spec else None,
            "overrun_max_s": max(r["overrun_s"] for r in ms[method]["seeds"].values())}
        if spec and ms[method]["test_accuracy_mean"] is not None:
            ours.append(ms[method]["test_accuracy_mean"])
            theirs.append(ms[spec]["test_accuracy_mean"])
    print(f"\n### Issue 21 goals: {method} minus the loop and minus the specialist, points "
          "(mean of paired per-seed differences)\n\n| set | specialist | vs loop (>= 0) "
          "| vs specialist (>= -2) | largest overrun s (<= 3) |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['specialist'] or '–'} | {_pct(r['vs_loop'])} "
              f"| {_pct(r['vs_specialist'])} | {r['overrun_max_s']:+.1f} |")
    print(f"\nsets with a specialist ({len(ours)}): {method} {_pct(mean_std(ours)[0])}, "
          f"specialists {_pct(mean_std(theirs)[0])}")
    return {"per_set": rows, "mean": mean_std(ours)[0], "specialists_mean": mean_std(theirs)[0]}


def plot(sets: dict[str, Any], plots: Path) -> list[str]:
    """Hypervolume against time per data set, mean over seeds, one line per method."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        print("matplotlib missing: no plots (make bench-deps)")
        return []
    plots.mkdir(parents=True, exist_ok=True)
    written = []
    for name, s in sets.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for m, a in s["methods"].items():
            curves = [r["curve"] for r in a["seeds"].values() if "curve" in r]
            if not curves:
                continue
            end = max(max(r["wall_s"] for r in a["seeds"].values()), s["budget_s"])
            grid = np.linspace(0, end, 300)
            mean = [np.mean([hv_at(c, t) for c in curves]) for t in grid]
            ax.step(grid, mean, where="post", label=m)
        ax.axvline(s["budget_s"], color="grey", ls=":", label="T")
        ax.set(xlabel="seconds since launch", ylabel="validation hypervolume",
               title=f"{name}: acc vs log10 FLOPs front, mean over seeds")
        ax.legend()
        fig.tight_layout()
        path = plots / f"search_efficiency_{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(str(path))
    return written


def report(results: dict[str, list[dict[str, Any]]], budgets: dict[str, float],
           seeds: list[int], methods: list[str], plots: Path) -> dict[str, Any]:
    """Print the per-set and summary tables, draw the plots; the summary as a dict."""
    sets = {name: summarize_set(runs, budgets[name]) for name, runs in results.items()}
    for name, s in sets.items():
        print_set(name, s)
    print_summary(sets, methods)
    summary_goals = goals(sets)
    written = plot(sets, plots)
    for name, s in sets.items():
        s.update(kind=SUITE[name].kind, reference=SUITE[name].reference,
                 source=SUITE[name].source)
    return {"seeds": seeds, "methods": methods, "plots": written, "sets": sets,
            "goals": summary_goals}
