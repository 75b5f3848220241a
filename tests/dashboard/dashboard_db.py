"""Test databases for the dashboard: one written with the storage API that holds every trial
state and the awkward cases (``build_mixed``); the real-search one is a fixture in conftest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "app.py"
MLP = {"kind": "mlp", "input_shape": [1, 8, 8], "num_classes": 10, "hidden": [32, 16],
       "activation": "relu", "norm": "batch", "dropout": 0.1}
CNN = {"kind": "cnn2d", "input_shape": [1, 8, 8], "num_classes": 10, "stem_width": 8,
       "stages": [{"width": 8, "downsample": False,
                   "blocks": [{"op": "conv3", "expansion": 1, "residual": True}] * 3},
                  {"width": 16, "downsample": True,
                   "blocks": [{"op": "mbconv", "expansion": 4, "residual": True}]}],
       "activation": "relu", "norm": "batch", "dropout": 0.0}


@dataclass(frozen=True)
class Db:
    url: str
    path: Path | None  # the SQLite file, if it is one
    study: str


def build_mixed(url: str) -> Db:
    """Study "mixed": complete (MLP, CNN), pruned, failed and running trials with curves; study
    "all-failed": failed trials only; study "no-trials": created, never run."""
    import optuna

    from automl.storage import open_storage
    from automl.storage.urls import sqlite_path

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = open_storage(url)
    study = st.create_study("mixed",
                                directions=["maximize", "minimize"])
    st.save_study("mixed", "pareto", "flops",
                  {"study": {"name": "mixed", "cost": "flops", "objective": "pareto"}}, {})
    plan: list[tuple[Any, ...]] = [  # state, arch, family, val acc, flops, epochs
        ("COMPLETE", MLP, "ce", 0.90, 2e4, 3),
        ("COMPLETE", CNN, "focal", 0.95, 9e5, 3),
        ("COMPLETE", MLP, "ce", 0.80, 5e4, 2),  # dominated by trial 0
        ("PRUNED", CNN, "focal", 0.50, 8e5, 1),
        ("FAIL", None, None, None, None, 0),
        ("RUNNING", MLP, "composite", 0.70, 3e4, 1),
    ]
    for state, arch, family, acc, flops, epochs in plan:
        trial = study.ask({"width": optuna.distributions.IntDistribution(8, 64),
                           "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)})
        n = trial.number
        if arch is not None:
            st.update_trial("mixed", n, state="RUNNING", arch_space=arch["kind"], arch=arch,
                            loss={"kind": family}, loss_formula=f"{family.upper()}(ls=0.1)",
                            loss_family=family, hparams={"lr": 1e-3, "batch_size": 64},
                            params=1000 + 100 * n, flops=flops, latency_ms=0.1 * (n + 1),
                            peak_memory_mb=1.0 + n)
        if n == 1:  # a trial with per-class test accuracies, measured in balanced accuracy
            trial.set_user_attr("test_per_class", {"cat": 0.96, "dog": 0.94, "eel": None})
            st.update_trial("mixed", n, train_config={"metric": "balanced_accuracy"})
        for e in range(1, epochs + 1):
            st.add_epoch("mixed", n, e, 2.0 / e, acc * e / epochs, 0.5)
        if state == "COMPLETE":
            st.update_trial("mixed", n, state=state, val_accuracy=acc, test_accuracy=acc - 0.01,
                            train_seconds=3.0)
            study.tell(trial, [acc, flops])
        elif state == "PRUNED":
            st.update_trial("mixed", n, state=state, reason="pruned by asha at epoch 1")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif state == "FAIL":
            st.update_trial("mixed", n, state=state, reason="RuntimeError: out of memory")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    failed = st.create_study("all-failed")
    st.save_study("all-failed", "val_accuracy", "flops", {"study": {"cost": "flops"}}, {})
    for _ in range(2):
        trial = failed.ask()
        st.update_trial("all-failed", trial.number, state="FAIL", reason="ValueError: bad data")
        failed.tell(trial, state=optuna.trial.TrialState.FAIL)
    st.create_study("no-trials")
    st.save_study("no-trials", "val_accuracy", "flops", {"study": {"cost": "flops"}}, {})
    st.close()
    return Db(url, sqlite_path(url), "mixed")


def build_importance(url: str, n: int = 40) -> Db:
    """Study "lr-matters": ``n`` completed trials whose accuracy is set by ``lr`` alone (best
    near 1e-2) while ``width`` is noise, so any importance evaluator must rank ``lr`` first;
    study "one-done": a single completed trial, too few for any importance."""
    import math

    import numpy as np
    import optuna

    from automl.storage import open_storage
    from automl.storage.urls import sqlite_path

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = open_storage(url)
    space = {"width": optuna.distributions.IntDistribution(8, 64),
             "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    rng = np.random.default_rng(0)
    for name, count in (("lr-matters", n), ("one-done", 1)):
        study = st.create_study(name, direction="maximize")
        st.save_study(name, "val_accuracy", "flops",
                      {"study": {"name": name, "cost": "flops", "objective": "val_accuracy"}},
                      {})
        for _ in range(count):
            params = {"width": int(rng.integers(8, 65)),
                      "lr": float(10 ** rng.uniform(-4, -1))}
            acc = 0.95 - 0.25 * abs(math.log10(params["lr"]) + 2)  # peaks at lr = 1e-2
            trial = optuna.trial.create_trial(params=params, distributions=space, value=acc)
            study.add_trial(trial)
            number = study.get_trials(deepcopy=False)[-1].number
            st.update_trial(name, number, state="COMPLETE", arch_space="mlp", arch=MLP,
                            loss={"kind": "ce"}, loss_formula="CE", loss_family="ce",
                            hparams={"lr": params["lr"], "batch_size": 64}, params=1000,
                            flops=2e4, latency_ms=0.1, peak_memory_mb=1.0, val_accuracy=acc,
                            test_accuracy=acc, train_seconds=1.0)
    st.close()
    return Db(url, sqlite_path(url), "lr-matters")
