"""Search efficiency: ``automl search`` with its defaults against a hand-written Optuna loop.

For every data set of the suite and every seed, each method gets the same wall time T:

* ``loop``: plain Optuna TPE + PyTorch, as a user writes it (family picked from the data, depth,
  width, lr and batch size sampled, a fixed number of Adam epochs per trial);
* ``loop_asha``: the same with Optuna's SuccessiveHalvingPruner on per-epoch val accuracy;
* ``automl``: ``automl search --timeout T`` with defaults only; ablations, each with one
  ``--set``: ``automl_ce`` (loss fixed to cross-entropy), ``automl_norocket`` (``auto`` without
  the rocket family), ``automl_rocket`` (rocket offered on every data set);
* the specialists of ``specialists.py`` (anchors, not bound to T): ``minirocket`` on the
  sequence sets, ``hgb`` (HistGradientBoosting) and ``rf`` (random forest) on tables and images.

Every method runs as its own process, one after another, and each (set, seed, method) result is
a JSON file in ``--out``: a rerun skips what is there (with the same T and epochs).

    python benchmarks/search_efficiency.py --quick [--budget-scale 0.25]
    python benchmarks/search_efficiency.py [--sets wine,gunpoint] [--seeds 3] [--methods loop]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable from anywhere

from benchmarks.common import cpu_model  # noqa: E402
from benchmarks.efficiency_report import report  # noqa: E402
from benchmarks.hand_loop import VAL_FRACTION, hand_loop  # noqa: E402
from benchmarks.specialists import SPECIALISTS, applies, fit_score  # noqa: E402
from benchmarks.suite import MAIN, QUICK, SUITE  # noqa: E402

METHODS = ("loop", "loop_asha", "automl", "automl_ce", "automl_norocket", "automl_rocket",
           *SPECIALISTS)
# The one setting each automl ablation changes.
ABLATIONS = {
    "automl_ce": 'search.loss="ce"',
    "automl_norocket": 'search.arch_options.families=["mlp", "cnn1d", "cnn2d"]',
    # every family named (the default since issue 21; before it, rocket only on signal-like data)
    "automl_rocket": 'search.arch_options.families=["mlp", "cnn1d", "cnn2d", "rocket"]',
}
DEFAULT_METHODS = ("loop", "loop_asha", "automl", "automl_ce", *SPECIALISTS)
EPOCHS = 30


def write_npz(name: str, out: Path) -> Path:
    import numpy as np

    path = out / "data" / f"{name}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        x, y, x_test, y_test = SUITE[name].load()
        np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return path


def automl_cli() -> list[str]:
    exe = Path(sys.executable).with_name("automl")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "automl"]


def run_automl(name: str, seed: int, budget: float, out: Path, method: str,
               sets: list[str] | None = None, data: Path | None = None) -> dict[str, Any]:
    """``automl search`` with defaults (plus the ablation's one --set, or the ``--set``
    arguments ``sets`` when given) on ``data`` (default: the suite set ``name``), then its
    trials as the Python API gives them. The search itself runs as the command a user types, in
    a process of its own: the budget T then covers its start-up and imports, as it does for a
    user."""
    import automl

    study = f"{name}-s{seed}-{method}"
    db = out / f"{study}.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)  # a rerun must not resume (and extend) an old study
    shutil.rmtree(out / "automl_artifacts" / study, ignore_errors=True)
    url = f"sqlite:///{db}"
    # --trials only lifts the default count of 20: the timeout alone ends the search.
    data = data or write_npz(name, out)
    cmd = [*automl_cli(), "search", "--data", str(data), "--timeout",
           str(budget), "--study", study, "--storage", url, "--seed", str(seed), "--quiet",
           "--trials", "100000"]
    if sets is None:
        sets = [ABLATIONS[method]] if method in ABLATIONS else []
    for setting in sets:
        cmd += ["--set", setting]
    launch = time.time()
    try:
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True,
                              timeout=3 * budget + 600)
        rc, err = proc.returncode, proc.stderr.strip()
    except subprocess.TimeoutExpired:
        rc, err = -9, "killed: past 3 T + 600 s"
    result: dict[str, Any] = {"wall_s": time.time() - launch, "returncode": rc, "cmd": cmd[1:]}
    if rc != 0:
        result["error"] = err.splitlines()[-1] if err else f"exit {rc}"
    try:
        recs = automl.trials(study, url)
        chosen = _chosen(recs)
        refit = _refit(url, study)
    except Exception as exc:  # no database or no study: the search died before its first trial
        return {**result, "trials": [], "error": result.get("error") or f"read: {exc}"}
    result["trials"] = _trial_rows(recs, chosen, refit, launch)
    return result


def _trial_rows(recs: list[Any], chosen: int | None, refit: dict[str, Any] | None,
                launch: float) -> list[dict[str, Any]]:
    """The trials of a search as the report reads them (times from the process launch)."""
    shipped = refit if refit and refit.get("trial") == chosen else None
    return [
        {"number": r.number, "state": r.state, "val_accuracy": r.val_accuracy,
         "val_loss": r.val_loss, "flops": r.flops,
         # The chosen trial's figure is the model `best` exports (the refit, when made).
         "test_accuracy": shipped["test_accuracy"] if shipped and r.number == chosen
         else r.test_accuracy,
         "searched_test_accuracy": r.test_accuracy,
         "refit": bool(shipped) and r.number == chosen,
         # Fields the project may add later are read when present.
         "cv_accuracy": getattr(r, "cv_accuracy", None),
         "cv_loss": getattr(r, "cv_loss", None), "reason": r.reason,
         "chosen": r.number == chosen,
         "family": (r.arch or {}).get("kind"),
         "loss_family": r.loss_family, "loss_formula": r.loss_formula,
         # Optuna stores naive local times, which .timestamp() reads as local: same clock.
         "t_start": r.datetime_start.timestamp() - launch if r.datetime_start else None,
         "t": r.datetime_complete.timestamp() - launch if r.datetime_complete else None}
        for r in recs
    ]


def _refit(url: str, study: str) -> dict[str, Any] | None:
    """The search's refit of its best trial, as the study's config records it (or None)."""
    from automl.storage import open_storage

    store = open_storage(url, create=False, readonly=True)
    try:
        refit = store.study_config(study).get("_refit")
    finally:
        store.close()
    return refit if isinstance(refit, dict) else None


def _chosen(recs: list[Any]) -> int | None:
    """The trial ``automl export --trial best`` takes: what a user of automl gets."""
    from automl.export.errors import ExportError
    from automl.policy.select import best_trial

    try:
        return best_trial(recs).number
    except ExportError:
        return None


def with_choice(run: dict[str, Any], out: Path, rejudge: bool = False) -> dict[str, Any]:
    """A saved automl run from before its chosen trial was recorded, completed from its
    database; with ``rejudge``, any saved automl run, its choice made again by today's
    ``best`` rule (the search itself never reads that choice, so this is what today's code
    would export from the same trials). Trials stored before ``val_recent`` existed get it
    from their stored epochs."""
    if not run["method"].startswith("automl") or (
            not rejudge and any("chosen" in t for t in run["trials"])):
        return run
    import dataclasses

    import automl
    from automl.policy.ranking import recent_accuracy

    study = f"{run['set']}-s{run['seed']}-{run['method']}"
    if not (out / f"{study}.db").exists():
        return run
    recs = automl.trials(study, f"sqlite:///{out / f'{study}.db'}", with_epochs=rejudge)
    recs = [dataclasses.replace(r, val_recent=recent_accuracy(r.epochs))
            if r.val_recent is None and r.state == "COMPLETE" and r.epochs else r
            for r in recs]
    chosen, losses = _chosen(recs), {r.number: r.cv_loss for r in recs}
    return {**run, "trials": [{**t, "cv_loss": losses.get(t["number"]),
                               "chosen": t["number"] == chosen} for t in run["trials"]]}


def run_child(method: str, name: str, seed: int, budget: float, epochs: int) -> dict[str, Any]:
    """One method in a process of its own, timed from launch (imports included) by the parent."""
    launch = time.time()
    cmd = [sys.executable, __file__, "--run-one", method, "--sets", name, "--child-seed",
           str(seed), "--child-budget", str(budget), "--epochs", str(epochs), "--t0", str(launch)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * budget + 600)
    except subprocess.TimeoutExpired:
        return {"wall_s": time.time() - launch, "trials": [], "error": "killed: past 3 T + 600 s"}
    wall = time.time() - launch
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()
        return {"wall_s": wall, "trials": [], "error": tail[-1] if tail else "failed"}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall}


def run_one(method: str, name: str, seed: int, budget: float, out: Path,
            epochs: int) -> dict[str, Any]:
    if method.startswith("automl"):
        res = run_automl(name, seed, budget, out, method)
    else:
        res = run_child(method, name, seed, budget, epochs)
    return {"set": name, "seed": seed, "method": method, "budget_s": budget, "epochs": epochs,
            **res}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"1 seed on {', '.join(QUICK)}")
    ap.add_argument("--sets", help=f"comma-separated, from: {', '.join(SUITE)}")
    ap.add_argument("--seeds", type=int, help="number of seeds (default 3; --quick: 1)")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help=f"comma-separated, from: {', '.join(METHODS)}")
    ap.add_argument("--budget-scale", type=float, default=1.0, help="multiply every T")
    ap.add_argument("--epochs", type=int, default=EPOCHS, help="epochs per hand-loop trial")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/search_efficiency")
    ap.add_argument("--plots", type=Path, default=REPO / "benchmarks/plots")
    ap.add_argument("--rejudge", action="store_true",
                    help="choose automl's best again, by the current rule, in cached runs")
    for hidden in ("--run-one", "--child-seed", "--child-budget", "--t0"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.sets = args.sets.split(",") if args.sets else list(QUICK if args.quick else MAIN)
    args.methods = args.methods.split(",")
    for label, given, allowed in (("--sets", args.sets, SUITE), ("--methods", args.methods,
                                                                  METHODS)):
        unknown = [v for v in given if v not in allowed]
        if unknown:
            ap.error(f"{label}: unknown {unknown[0]!r}; choose from {', '.join(allowed)}")
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.run_one:  # child: one method, result as the last line of stdout
        name, seed = args.sets[0], int(args.child_seed)
        if args.run_one in SPECIALISTS:
            res = fit_score(args.run_one, name, seed)
        else:
            res = hand_loop(name, seed, float(args.child_budget), float(args.t0), args.epochs,
                            asha=args.run_one == "loop_asha")
        print(json.dumps(res))
        return
    out = args.out.resolve()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    budgets = {n: SUITE[n].budget_s * args.budget_scale for n in args.sets}
    print(f"machine: {cpu_model()}\nseeds: {seeds}\nmethods: {', '.join(args.methods)}\n"
          "T per set: " + ", ".join(f"{n} {t:g}s" for n, t in budgets.items()), flush=True)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in args.sets}
    for name in args.sets:
        for seed in seeds:
            for method in args.methods:
                if not applies(method, name):
                    continue
                path = out / "runs" / f"{name}__seed{seed}__{method}.json"
                old = json.loads(path.read_text()) if path.exists() else None
                # A result is reused only for the same budget and epochs, and not after a
                # failure (which may have been fixed since).
                if (old and old["budget_s"] == budgets[name] and old["epochs"] == args.epochs
                        and not old.get("error")):
                    results[name].append(with_choice(old, out, args.rejudge))
                    continue
                res = run_one(method, name, seed, budgets[name], out, args.epochs)
                path.write_text(json.dumps(res, indent=1))
                results[name].append(res)
                print(f"{name} seed {seed} {method}: {res['wall_s']:.1f}s"
                      + (f"  ERROR {res['error']}" if res.get("error") else ""), flush=True)
    summary = report(results, budgets, seeds, args.methods, args.plots)
    summary.update(machine=cpu_model(), budget_scale=args.budget_scale,
                   epochs_per_loop_trial=args.epochs, val_fraction=VAL_FRACTION)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out / 'summary.json'}")


if __name__ == "__main__":
    main()
