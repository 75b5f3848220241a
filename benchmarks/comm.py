"""Gradient bytes per step and accuracy under each DDP communication hook, on 2 ranks.

Trains the same MLP (64 -> 512 -> 512 -> 10, ~300k parameters, nearly all in two weight
matrices) on digits with ``comm_hook = none``, ``fp16`` and ``powersgd`` of rank 1 to 4, on
2 gloo ranks (``trainer.train`` with ``nproc = 2``), same seed. The bytes are what the trainer
stores as ``comm_bytes_per_step``: the tensors the hook hands to ``all_reduce`` per optimizer
step, at steady state (PowerSGD: after its ``powersgd_start_iter`` plain steps, set to 10% of
the run). Accuracy is the validation accuracy of the last epoch.

    .venv/bin/python benchmarks/comm.py [--epochs 12] [--ranks 1,2,3,4] [--json PATH] [--quick]

JSON keys: ``fp16_bytes_ratio``; ``powersgd_bytes_ratio`` (the smallest ratio among PowerSGD
ranks whose accuracy is within 1 point of ``none``; the most accurate rank if none is);
``powersgd_acc_delta`` (accuracy of none minus that PowerSGD run, in points). Goal (issue 5):
fp16 0.50x; PowerSGD <= 0.1x within 1 point of none.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from anywhere
from benchmarks.common import digits_splits, write_json  # noqa: E402
from benchmarks.ddp_common import machine, print_table  # noqa: E402
from search_spaces import LossSpec, MLPSpec  # noqa: E402
from trainer import TrainConfig, train  # noqa: E402

BOUND = 1.0  # accuracy points



def run(args: argparse.Namespace) -> dict[str, Any]:
    data = digits_splits()
    spec = MLPSpec(input_shape=(1, 8, 8), num_classes=10, hidden=(512, 512))
    steps = args.epochs * -(-len(data.y_train) // args.batch)
    base = TrainConfig(
        epochs=args.epochs, batch_size=args.batch, lr=args.lr, nproc=2, latency_repeats=0,
        powersgd_start_iter=max(2, steps // 10), seed=0,
    )  # fmt: skip
    runs: dict[str, Any] = {}
    for name, changes in [("none", {}), ("fp16", {"comm_hook": "fp16"})] + [
        (f"powersgd-{r}", {"comm_hook": "powersgd", "powersgd_rank": r}) for r in args.ranks
    ]:
        start = time.perf_counter()
        result = train(spec, LossSpec("ce"), data, dataclasses.replace(base, **changes))
        runs[name] = {
            "bytes_per_step": result.comm_bytes_per_step,
            "val_accuracy": result.history[-1].val_accuracy,
            "test_accuracy": result.test_accuracy,
            "seconds": time.perf_counter() - start,
        }
    plain = runs["none"]
    for r in runs.values():
        r["bytes_ratio"] = r["bytes_per_step"] / plain["bytes_per_step"]
        r["acc_delta_points"] = 100 * (plain["val_accuracy"] - r["val_accuracy"])
    psgd = {k: v for k, v in runs.items() if k.startswith("powersgd")}
    within = {k: v for k, v in psgd.items() if v["acc_delta_points"] <= BOUND}
    best = (
        min(within, key=lambda k: within[k]["bytes_ratio"]) if within
        else min(psgd, key=lambda k: psgd[k]["acc_delta_points"])
    )  # fmt: skip
    return {
        "runs": runs,
        "fp16_bytes_ratio": runs["fp16"]["bytes_ratio"],
        "powersgd_best": best,
        "powersgd_bytes_ratio": runs[best]["bytes_ratio"],
        "powersgd_acc_delta": runs[best]["acc_delta_points"],
        "steps": steps,
        "powersgd_start_iter": base.powersgd_start_iter,
        "config": {"epochs": args.epochs, "batch_size": args.batch, "lr": args.lr, "nproc": 2},
        "machine": machine("cpu", "2 gloo ranks x 1 thread"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--ranks", default="1,2,3,4", help="PowerSGD ranks to try")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch, PowerSGD rank 1 only (checks that it runs)")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.ranks = 1, "1"
    args.ranks = [int(r) for r in args.ranks.split(",")]
    r = run(args)
    print(f"MLP 64-512-512-10 on digits, 2 gloo ranks, {r['steps']} steps ({r['machine']})")
    print_table(
        [("hook", 12, "<"), ("bytes/step", 12, ",.0f"), ("ratio", 8, ".3f"),
         ("val acc", 9, ".4f"), ("delta pts", 10, ".2f"), ("s", 7, ".1f")],
        [[name, v["bytes_per_step"], v["bytes_ratio"], v["val_accuracy"],
          v["acc_delta_points"], v["seconds"]] for name, v in r["runs"].items()],
    )
    print(f"fp16 ratio {r['fp16_bytes_ratio']:.3f} (goal 0.50); best PowerSGD within "
          f"{BOUND:g} point: {r['powersgd_best']} ratio {r['powersgd_bytes_ratio']:.3f} "
          f"(goal <= 0.1), delta {r['powersgd_acc_delta']:.2f} points")
    write_json(args.json, r)


if __name__ == "__main__":
    main()
