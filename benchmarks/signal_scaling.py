"""How the search's standardization of univariate series changes rocket (issue 21).

A univariate series set arrives as ``(N, L)``, which the data layer cannot tell from a table,
so it is standardized per time step like a table's columns (``automl/data/splits.py``). MiniRocket
is built for series scaled as a whole. For each signal set and seed, the MiniRocket-sized rocket
with its ridge head alone (fitted on a 75 % split of the official training set, no training
step) is scored on the official test set three ways: the series as shipped, standardized per
time step (what a search does today) and standardized with one mean and deviation over every
step (what a signal's channel gets).

    python benchmarks/signal_scaling.py [--sets arrow_head osu_leaf] [--seeds 3] [--json out]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_model, write_json  # noqa: E402
from benchmarks.ridge_start import _split, ridge_start_accuracy  # noqa: E402
from benchmarks.suite import SUITE  # noqa: E402

SETS = ("gunpoint", "italy_power", "arrow_head", "osu_leaf", "pickup_gesture")
SCALINGS = ("as_shipped", "per_step", "whole_series")
PICKS = ("whole_series", "as_shipped")  # the two views a leave-one-out choice is between


def _scaled(how: str, train: np.ndarray, *rest: np.ndarray) -> list[np.ndarray]:
    """``train`` and ``rest`` scaled with statistics of ``train`` only."""
    if how == "as_shipped":
        mean, std = np.float32(0.0), np.float32(1.0)
    elif how == "per_step":  # the search's own rule for (N, L) samples
        mean, std = train.mean(0), np.maximum(train.std(0), 1e-6)
    else:
        mean, std = train.mean(), max(float(train.std()), 1e-6)
    return [((a - mean) / std).astype(np.float32) for a in (train, *rest)]


def run_one(name: str, seed: int, features: int) -> dict[str, Any]:
    import torch

    from search_spaces import InputInfo
    from search_spaces.arch.rocket import rocket_space
    from search_spaces.probe import ProbeTrial

    x, y, xt, yt = SUITE[name].load()
    if x.ndim != 2:
        raise SystemExit(f"{name}: univariate series only (samples of shape (L,))")
    xtr, ytr, _, _ = _split(x, y, seed)
    k = int(max(y.max(), yt.max())) + 1
    info = InputInfo(shape=tuple(x.shape[1:]), num_classes=k)
    spec = rocket_space(ProbeTrial({"n_features": features, "norm": "none", "dropout": 0.0}),
                        info)
    out: dict[str, Any] = {"set": name, "seed": seed, "loo": {}}
    for how in SCALINGS:
        a, b = _scaled(how, xtr, xt)
        torch.manual_seed(seed)
        out[how], out["loo"][how] = ridge_start_accuracy(spec, a, ytr, b, yt, with_loo=True)
    # The view a choice by the ridge's own leave-one-out would keep, between the search's
    # (whole_series) and the series as shipped; a tie keeps the search's.
    loo = out["loo"]
    out["loo_pick"] = out[PICKS[1]] if loo[PICKS[1]] > loo[PICKS[0]] else out[PICKS[0]]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=sorted(SUITE))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--features", type=int, default=10000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = [run_one(s, seed, args.features) for s in args.sets for seed in range(args.seeds)]
    print(f"{cpu_model()}; {args.seeds} seeds, {args.features} features, ridge head alone; "
          "test accuracy (%):")
    cols = (*SCALINGS, "loo_pick")
    print(f"{'set':<16}" + "".join(f"{h:>14}" for h in cols)
          + "".join(f"{'loo ' + h:>18}" for h in PICKS))
    summary = {s: {h: 100 * statistics.mean(r[h] for r in rows if r["set"] == s)
                   for h in cols} for s in args.sets}
    for s, row in summary.items():
        loo = [100 * statistics.mean(r["loo"][h] for r in rows if r["set"] == s)
               for h in PICKS]
        print(f"{s:<16}" + "".join(f"{row[h]:14.1f}" for h in cols)
              + "".join(f"{v:18.1f}" for v in loo))
    result = {"machine": cpu_model(), "seeds": args.seeds, "features": args.features,
              "runs": rows, "summary": summary}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
