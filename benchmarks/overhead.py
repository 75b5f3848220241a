"""Overhead of ``automl search`` against a hand-written Optuna + PyTorch loop.

Both sides train the same candidates (the same spaces, sampled by the same seeded random
sampler, the same seeds per trial) on the same digits split, with the same optimizer, schedule,
epochs and per-epoch validation, and both keep their study in a SQLite file. ``automl search``
also measures costs (params, FLOPs, latency, memory), stores specs and per-epoch curves and saves
weights: that is the overhead measured. Each side runs as a fresh process (imports included),
alternating, several times; the figure is the ratio of medians.

    python benchmarks/overhead.py [--repeats 5] [--trials 6] [--epochs 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = 0


def hand_loop(db: str, trials: int, epochs: int) -> None:
    """What a user would write by hand: Optuna + a plain PyTorch loop."""
    import math

    import optuna
    import torch
    import torch.nn.functional as F

    from automl.data import load_data
    from search_spaces import InputInfo, build_model, sample_arch, sample_hparams, sample_loss

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = load_data("digits", 0.15, 0.15, SEED).splits
    xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    xv, yv = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
    info = InputInfo(shape=data.input_shape, num_classes=data.num_classes)

    def objective(trial: optuna.Trial) -> float:
        arch = sample_arch("auto", trial, info)
        sample_loss("fixed_ce", trial, info)
        hp = sample_hparams("default", trial, {"optimizers": ["adamw"],
                                               "batch_sizes": [32, 64, 128]})
        torch.manual_seed(SEED + trial.number)
        model = build_model(arch)
        opt = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        steps = epochs * math.ceil(len(yt) / hp.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        best = 0.0
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(len(yt)).split(hp.batch_size):
                loss = F.cross_entropy(model(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            model.eval()
            with torch.no_grad():
                best = max(best, (model(xv).argmax(1) == yv).float().mean().item())
        return best

    study = optuna.create_study(storage=db, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=SEED))
    study.optimize(objective, n_trials=trials)


def automl_cmd(db: str, trials: int, epochs: int) -> list[str]:
    return [
        sys.executable, "-m", "automl", "search", "--data", "digits", "--storage", db,
        "--study", "overhead", "--trials", str(trials), "--epochs", str(epochs), "--quiet",
        "--sampler", "random", "--seed", str(SEED), "--set", "study.objective=val_accuracy",
        "--set", "study.pruner=none", "--set", "search.loss=fixed_ce",
        "--set", 'search.hparam_options.optimizers=["adamw"]', "--set", "trainer.num_threads=1",
        "--set", "search.hparam_options.batch_sizes=[32, 64, 128]",
    ]


def timed(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--hand-loop", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hand_loop:
        hand_loop(args.hand_loop, args.trials, args.epochs)
        return
    ours, hand = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/bench.db"
            hand_cmd = [sys.executable, __file__, "--hand-loop", f"sqlite:///{tmp}/hand.db",
                        "--trials", str(args.trials), "--epochs", str(args.epochs)]
            # Alternate the order so drift in machine load hits both sides alike.
            pair = [("automl", automl_cmd(db, args.trials, args.epochs)), ("hand", hand_cmd)]
            for name, cmd in pair if r % 2 == 0 else pair[::-1]:
                (ours if name == "automl" else hand).append(timed(cmd, tmp))
        print(f"run {r + 1}/{args.repeats}: automl {ours[-1]:.2f}s  hand-written {hand[-1]:.2f}s",
              flush=True)
    m_ours, m_hand = statistics.median(ours), statistics.median(hand)
    result = {
        "trials": args.trials, "epochs": args.epochs, "repeats": args.repeats,
        "automl_median_s": round(m_ours, 3), "hand_median_s": round(m_hand, 3),
        "ratio": round(m_ours / m_hand, 4), "automl_s": ours, "hand_s": hand,
    }
    print(f"\n| side | median wall (s) |\n|---|---|\n| automl search | {m_ours:.2f} |\n"
          f"| hand-written Optuna + PyTorch | {m_hand:.2f} |\n\nratio: {result['ratio']:.3f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
