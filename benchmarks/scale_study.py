"""The synthetic study that ``dashboard_scale.py`` times the dashboard on: Optuna trials through
``study.add_trials``, the project's rows and curves by bulk insert."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from typing import Any

STUDY = "scale"
LOSS_FAMILIES = ("ce", "focal", "composite", "label_smoothing")


def _arch(rng: random.Random) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A random spec and the Optuna params that would have produced it."""
    if rng.random() < 0.5:
        hidden = [rng.choice([64, 128, 256, 512]) for _ in range(rng.randint(1, 3))]
        spec = {"kind": "mlp", "input_shape": [1, 8, 8], "num_classes": 10, "hidden": hidden,
                "activation": rng.choice(["relu", "gelu"]), "norm": "batch", "dropout": 0.1}
        return "mlp", spec, {"n_layers": len(hidden), "width": hidden[0]}
    stages = [{"width": rng.choice([16, 32, 64]), "downsample": i > 0,
               "blocks": [{"op": rng.choice(["conv3", "sep3", "mbconv"]), "expansion": 4,
                           "residual": True}]} for i in range(rng.randint(1, 3))]
    spec = {"kind": "cnn2d", "input_shape": [1, 8, 8], "num_classes": 10, "stem_width": 16,
            "stages": stages, "activation": "relu", "norm": "batch", "dropout": 0.0}
    return "cnn2d", spec, {"n_layers": len(stages), "width": stages[0]["width"]}


def _distributions() -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "n_layers": IntDistribution(1, 3), "width": IntDistribution(16, 512),
        "loss_family": CategoricalDistribution(LOSS_FAMILIES),
        "lr": FloatDistribution(1e-4, 1e-1, log=True), "dropout": FloatDistribution(0.0, 0.5),
    }


def _trial(n: int, rng: random.Random, epochs: int, t0: datetime,
           dists: dict[str, Any]) -> tuple[Any, Any]:
    """Trial ``n``: Optuna's frozen trial and the project's row (with its curve)."""
    import optuna

    from automl.storage.schema import EpochRow, TrialRow

    space, spec, arch_params = _arch(rng)
    family = rng.choice(LOSS_FAMILIES)
    lr, dropout = 10 ** rng.uniform(-4, -1), rng.uniform(0.0, 0.5)
    params = {**arch_params, "loss_family": family, "lr": lr, "dropout": dropout}
    n_params = rng.randint(2_000, 2_000_000)
    flops = n_params * rng.uniform(1.5, 40.0)
    acc = min(0.99, 0.6 + 0.06 * (flops ** 0.1) * rng.uniform(0.7, 1.0) / 3)
    state = rng.choices(["COMPLETE", "PRUNED", "FAIL"], [85, 10, 5])[0]
    ot = optuna.trial.create_trial(
        state=getattr(optuna.trial.TrialState, state),
        values=[acc, flops] if state == "COMPLETE" else None,
        params=params, distributions=dists,
    )
    ot.datetime_start = t0 + timedelta(seconds=30 * n)
    ot.datetime_complete = ot.datetime_start + timedelta(seconds=rng.uniform(5, 60))
    # Pruned as multi-objective ASHA prunes: at rung 0 (epoch 1) or 1 (epoch 3), with the
    # reason it writes, and a curve that stops there.
    rung = rng.choice([0, 0, 1])
    last = {"COMPLETE": epochs, "PRUNED": (1, 3)[rung], "FAIL": 0}[state]
    reason = {"COMPLETE": None, "FAIL": "RuntimeError: out of memory",
              "PRUNED": f"pruned by mo-asha at rung {rung} (epoch {last}): position 7 of "
                        "9 by Pareto rank and crowding; the best 1/3 (3) continue"}[state]
    curve = [EpochRow(epoch=e, train_loss=2.0 / e, val_accuracy=acc * (1 - 0.3 / e),
                      seconds=1.0) for e in range(1, last + 1)]
    row = TrialRow(
        study_name=STUDY, number=n, state=state, arch_space=space, arch=spec,
        loss={"kind": family}, loss_formula=f"{family.upper()}(ls=0.1)",
        loss_family=family, hparams={"lr": lr, "optimizer": "adamw", "batch_size": 64},
        val_accuracy=acc if state != "FAIL" else None, params=n_params, flops=flops,
        latency_ms=flops / 2e6, peak_memory_mb=n_params * 16 / 2**20,
        train_seconds=rng.uniform(5, 60), epochs=curve,
        reason=reason,
    )
    return ot, row


def build_study(url: str, n_trials: int, *, epochs: int = 5, seed: int = 0) -> None:
    """Write a ``STUDY`` with ``n_trials`` trials (85% complete, 10% pruned, 5% failed)."""
    import optuna

    from automl.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rng = random.Random(seed)
    st = open_storage(url)
    study = st.create_study(STUDY, directions=["maximize", "minimize"])
    st.save_study(STUDY, "pareto", "flops",
                  {"study": {"name": STUDY, "cost": "flops", "objective": "pareto",
                             "pruner": "asha"},
                   "search": {"arch": "auto", "loss": "searched"}}, {"python": sys.version})
    dists = _distributions()
    t0 = datetime(2026, 1, 1)
    frozen, rows = [], []
    for n in range(n_trials):
        ot, row = _trial(n, rng, epochs, t0, dists)
        frozen.append(ot)
        rows.append(row)
    study.add_trials(frozen)
    with st.session() as s:  # bulk insert: benchmark setup only, never the dashboard's way
        s.add_all(rows)
    st.close()
