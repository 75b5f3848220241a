"""Which first rung for Optuna's ASHA pruner: the study plan's (the rule MO-ASHA already used,
at least ``MIN_RUNG_STEPS`` optimizer steps and 1/20 of the epochs) or the old ``epochs // 8``.

Issue 20 found the rule written twice; this is the quick run that chose which to keep. Each
(set, seed) runs a single-objective search (``study.objective = "val_accuracy"``, the default
``asha`` pruner) under each rule with the same ``--timeout``, one after the other, alternating
the order by seed; the old rule is put back for its runs by swapping the pruner registry's
``asha`` entry in that child process only. Reported: the chosen trial's test accuracy (what
``automl export --trial best`` takes), trials finished, and how many were pruned.

    python benchmarks/rung_rule.py [--sets digits_flat,wine,gunpoint] [--seeds 3] [--scale 0.5]
    python benchmarks/rung_rule.py --trials 12   # a fixed count, no timeout: wall time differs
    python benchmarks/rung_rule.py --epochs 4    # fixed epochs per trial (no adaptation)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable from anywhere

from benchmarks.search_efficiency import _chosen, write_npz  # noqa: E402
from benchmarks.suite import QUICK, SUITE  # noqa: E402

RULES = ("plan", "e8")


def _old_asha(epochs: int, first_rung: int) -> Any:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 8))


def run_one(name: str, seed: int, rule: str, budget: float | None, out: Path,
            trials: int = 100_000, epochs: int | None = None) -> dict[str, Any]:
    """One search in this process (the caller runs it as a child process); ``epochs``: fixed
    epochs per trial (None: the defaults, adapted to the set)."""
    import automl
    from automl.control import samplers

    if rule == "e8":
        samplers.PRUNERS["asha"] = _old_asha
    study = f"{name}-s{seed}-{rule}"
    db = out / f"{study}.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    start = time.monotonic()
    automl.search(data=str(write_npz(name, out)), study=study, storage=url, timeout=budget,
                  trials=trials, epochs=epochs, seed=seed,
                  overrides=['study.objective="val_accuracy"'])
    wall = time.monotonic() - start
    recs = automl.trials(study, url)
    chosen = _chosen(recs)
    best = next((r for r in recs if r.number == chosen), None)
    return {"set": name, "seed": seed, "rule": rule, "wall_s": wall,
            "test_accuracy": None if best is None else best.test_accuracy,
            "trials": len(recs), "pruned": sum(r.state == "PRUNED" for r in recs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(QUICK))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=0.5, help="times each set's budget_s")
    ap.add_argument("--trials", type=int, default=0,
                    help="a fixed number of trials and no timeout (0: the timeout decides)")
    ap.add_argument("--epochs", type=int, default=0,
                    help="fixed epochs per trial, no adaptation (0: the defaults, adapted)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "rung_rule")
    ap.add_argument("--run-one", nargs=3, metavar=("SET", "SEED", "RULE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run_one:
        name, seed, rule = args.run_one
        epochs = args.epochs or None
        if args.trials:
            print(json.dumps(run_one(name, int(seed), rule, None, args.out, args.trials,
                                     epochs)))
        else:
            budget = SUITE[name].budget_s * args.scale
            print(json.dumps(run_one(name, int(seed), rule, budget, args.out, epochs=epochs)))
        return
    rows = []
    for name in args.sets.split(","):
        for seed in range(args.seeds):
            for rule in (RULES if seed % 2 == 0 else RULES[::-1]):
                proc = subprocess.run(
                    [sys.executable, __file__, "--run-one", name, str(seed), rule, "--scale",
                     str(args.scale), "--trials", str(args.trials), "--epochs", str(args.epochs),
                     "--out", str(args.out)],
                    capture_output=True, text=True, check=True)
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    summary = {}
    for name in args.sets.split(","):
        for rule in RULES:
            accs = [r["test_accuracy"] for r in rows if r["set"] == name and r["rule"] == rule
                    and r["test_accuracy"] is not None]
            summary[f"{name}/{rule}"] = statistics.fmean(accs) if accs else None
    diffs = [a["test_accuracy"] - b["test_accuracy"] for a in rows for b in rows
             if a["rule"] == "plan" and b["rule"] == "e8" and a["set"] == b["set"]
             and a["seed"] == b["seed"] and None not in (a["test_accuracy"], b["test_accuracy"])]
    summary["mean paired difference plan - e8 (points)"] = 100 * statistics.fmean(diffs)
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                      indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
