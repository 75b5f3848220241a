"""Rocket's fitted start scored as epoch 0 (issue 21): does keeping the ridge head, when no
trained epoch beats it on validation, lift test accuracy?

For each signal set and seed, one rocket candidate (the space's largest transform, batch norm,
no dropout) is trained twice with the same seed, so both runs see the same epochs: once keeping
the best trained epoch only (the old rule), once with the ridge start competing as epoch 0 (the
trainer's rule now). The ridge start's own test accuracy is printed beside them; MiniRocket's
published accuracy is the anchor for the held-out sets.

    python benchmarks/ridge_start.py [--sets gunpoint arrow_head] [--seeds 3] [--epochs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_model, write_json  # noqa: E402
from benchmarks.suite import SUITE  # noqa: E402

SETS = ("gunpoint", "italy_power", "basic_motions", "arrow_head", "osu_leaf", "japanese_vowels")


def _split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """75/25 stratified train/validation split of the official training set."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val[idx[: max(1, len(idx) // 4)] if len(idx) > 1 else []] = True
    return x[~val], y[~val], x[val], y[val]


def run_one(name: str, seed: int, epochs: int) -> dict[str, Any]:
    import trainer.core as core
    from search_spaces import InputInfo, LossSpec
    from search_spaces.arch.rocket import RocketOptions, rocket_space
    from search_spaces.probe import ProbeTrial
    from trainer import DataSplits, TrainConfig, train

    x, y, xt, yt = SUITE[name].load()
    xtr, ytr, xv, yv = _split(x, y, seed)
    k = int(max(y.max(), yt.max())) + 1
    info = InputInfo(shape=tuple(x.shape[1:]), num_classes=k)
    spec = rocket_space(ProbeTrial({"n_features": max(RocketOptions().features),
                                    "norm": "batch", "dropout": 0.0}), info)
    cfg = TrainConfig(epochs=epochs, latency_repeats=0, device="cpu", seed=seed)
    splits = DataSplits(xtr, ytr, xv, yv, xt, yt, k)
    out: dict[str, Any] = {"set": name, "seed": seed}
    real = core.train_loop
    for rule, score in (("trained_only", False), ("start_competes", True)):
        core.train_loop = lambda *a, _s=score, **kw: real(*a, **{**kw, "score_start": _s})
        t = time.perf_counter()
        try:
            r = train(spec, LossSpec("ce"), splits, cfg)
        finally:
            core.train_loop = real
        out[rule] = {"test": r.test_accuracy, "val": r.val_accuracy, "best_epoch": r.best_epoch,
                     "seconds": time.perf_counter() - t}
    out["ridge_start_test"] = ridge_start_accuracy(spec, xtr, ytr, xt, yt)
    return out


def ridge_start_accuracy(spec: Any, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                         y_test: np.ndarray, with_loo: bool = False) -> Any:
    """Test accuracy of ``spec``'s network as fitted to ``x``, ``y`` (the ridge start alone,
    before any training step); ``with_loo``: (test, the fit's leave-one-out accuracy)."""
    import torch

    from search_spaces import build_model

    model = build_model(spec)
    held = model.fit_to_data(torch.from_numpy(x), torch.from_numpy(y))
    with torch.no_grad():
        pred = model.eval()(torch.from_numpy(x_test)).argmax(1).numpy()
    test = float((pred == y_test).mean())
    if not with_loo:
        return test
    assert held is not None
    return test, float((held.pred == held.target).float().mean())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=sorted(SUITE))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = [run_one(s, seed, args.epochs) for s in args.sets for seed in range(args.seeds)]
    print(f"{cpu_model()}; {args.seeds} seeds, {args.epochs} epochs; test accuracy (%):")
    print(f"{'set':<16} {'ridge start':>11} {'trained only':>12} {'start competes':>14} "
          f"{'epoch-0 kept':>12}")
    summary = {}
    for s in args.sets:
        mine = [r for r in rows if r["set"] == s]
        ridge = statistics.mean(r["ridge_start_test"] for r in mine) * 100
        old = statistics.mean(r["trained_only"]["test"] for r in mine) * 100
        new = statistics.mean(r["start_competes"]["test"] for r in mine) * 100
        kept = sum(r["start_competes"]["best_epoch"] == 0 for r in mine)
        summary[s] = {"ridge_start": ridge, "trained_only": old, "start_competes": new,
                      "epoch0_kept": kept}
        print(f"{s:<16} {ridge:11.1f} {old:12.1f} {new:14.1f} {kept:>8}/{len(mine)}")
    result = {"machine": cpu_model(), "seeds": args.seeds, "epochs": args.epochs,
              "runs": rows, "summary": summary}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
